"""Folding and language guessing for social posts: the text side of :mod:`panne.signals.social`.

Folding makes one spelling of many: "CAÍDO", "caído" and "caido"; "مشكلة" and "مشكله"; "أنستغرام"
and "انستغرام". It is applied to posts and to the word tables alike, so neither has to list
variants.
"""

from __future__ import annotations

import re
import unicodedata

from panne.signals import social_words as w

_MARKS: dict[int, str | None] = {
    cp: None for cp in range(0x300, 0x10000) if unicodedata.category(chr(cp)) == "Mn"
}
_MARKS.update({0x640: None, 0x0649: "ي", 0x0629: "ه", 0x2019: "'", 0x2018: "'", 0x60: "'"})
_URL = re.compile(r"(?:https?://|www\.)\S+")
_SPACE = re.compile(r"\s+")
TOKEN = re.compile(r"\w+(?:'\w+)*")
CLAUSE_END = re.compile(r"[.!?;؟](?=\s|$)|\n| (?:but|mais|pero|however|though|لكن) ")
COMMA = re.compile(r"[,،]")
TAG = re.compile(r"[#@](\w+)")
ARABIC = re.compile(r"[\u0600-\u06ff]")


def fold(text: str) -> str:
    """Lowercase, accents and Arabic variants unified, URLs dropped, one space between words."""
    text = _URL.sub(" ", text)
    if text.isascii():
        return _SPACE.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFD", text.casefold()).translate(_MARKS)
    return _SPACE.sub(" ", text).strip()


def language_hint(lang: str | None) -> str | None:
    if not lang:
        return None
    return lang.split("-")[0].split("_")[0].lower() or None


def guess_language(original: str, tokens: list[str], claim_langs: list[str | None]) -> str | None:
    """A keyword vote; Arabic script decides alone. Good enough to split counts by language."""
    if ARABIC.search(original):
        return "ar"
    votes = dict.fromkeys(w.LANGUAGE_WORDS, 0.0)
    for lang in claim_langs:
        if lang in votes:
            votes[lang] += 2
    for token in tokens:
        for lang, words in w.LANGUAGE_WORDS.items():
            if token in words:
                votes[lang] += 1
    lower = original.lower()
    votes["es"] += 2 * sum(c in lower for c in "ñ¿¡")
    votes["pt"] += 2 * sum(c in lower for c in "ãõ")
    votes["fr"] += sum(c in lower for c in "èêàùç")
    lang, top = max(votes.items(), key=lambda kv: kv[1])
    return lang if top > 0 else None
