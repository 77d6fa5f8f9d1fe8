"""Outage mentions in social posts: "is instagram down?", "whatsapp caiu", "فيسبوك لا يعمل".

A post counts for a service when it names the service (name, slug or catalog alias) *and* claims
an outage close to the name, in the same clause. The rules are explicit tables
(:mod:`panne.signals.social_words`) rather than a model, so that a self-hosted node needs no
download, runs at tens of thousands of posts a second, and every decision has a readable reason.

Both the post and the tables are *folded* first (lowercase, accents off, Arabic hamza/ta marbuta
and diacritics unified, URLs dropped), so "CAÍDO", "caido" and "caído" are one word. Then:

* services are found with one regular expression over all aliases, longest first ("facebook
  messenger" beats "facebook"); Arabic names may carry a clitic ("الفيسبوك", "والواتس");
  hashtags and handles are read whole ("#instagramdown" is both a name and a claim);
* outage phrases are found with a second expression; "down" next to "to earth", "bad", "for a"…
  and outage words measuring something else ("subscribers are down") are dropped;
* a "state" phrase ("down", "caído") preceded by a negation is not a claim, and neither is one
  in a wish or a memory ("I wish twitter would go down"); both then *block* the service, like
  "works fine" after it does: each service takes its nearest cue;
* a clear joke marker ("jk", "just kidding", "/s", "april fools", "je rigole", "tô brincando",
  "بمزح") in the clause takes every claim of the clause back; laughter does not (it is as common
  in genuine complaints);
* a subject-only alias ("lol", "face") is the subject only when no other service is named
  between it and the claim ("lol discord down again" is about Discord);
* the score adds the name's strength (an everyday word such as "Steam" is weak), the phrase's
  and closeness; a mention is kept at :data:`SCORE_THRESHOLD` or more.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import NamedTuple

from panne.catalog import Catalog
from panne.signals import social_words as w
from panne.signals.social_counts import MentionCounter
from panne.signals.social_sources import JsonLinesSource, MastodonStreamSource, Post
from panne.signals.social_text import (
    ARABIC,
    CLAUSE_END,
    COMMA,
    TAG,
    TOKEN,
    fold,
    guess_language,
    language_hint,
)

__all__ = [
    "SCORE_THRESHOLD",
    "JsonLinesSource",
    "MastodonStreamSource",
    "Mention",
    "MentionCounter",
    "MentionMatcher",
    "Post",
    "fold",
]

SCORE_THRESHOLD = 0.75
STRONG_NAME, WEAK_NAME, HASHTAG_CLAIM = 0.5, 0.3, 0.95
ARABIC_CLITICS = "(?:وال|بال|فال|لل|ال|و|ب|ل|ف)?"


@dataclass(frozen=True, slots=True)
class Mention:
    """A post's claim that ``service`` is down, with why (``reason``) and how sure (``score``)."""

    service: str
    score: float
    language: str | None
    reason: str


class _Cue(NamedTuple):
    start: int
    end: int
    text: str
    weight: float  # 0 for a blocker (negated claim, wish, "works fine")
    kind: str
    lang: str | None


class _Name(NamedTuple):
    start: int
    end: int
    alias: str
    service: str
    strength: float
    subject_only: bool
    claim: str | None  # the outage suffix of a hashtag such as #instagramdown


@dataclass(slots=True)
class _Folded:
    """A folded post, its words (``tokens`` starting at ``starts``) and where clauses end."""

    text: str
    tokens: list[str]
    starts: list[int]
    ends: list[int] = field(default_factory=list)
    commas: list[int] = field(default_factory=list)
    unreal: list[tuple[int, int]] = field(default_factory=list)
    past: list[int] = field(default_factory=list)
    jokes: list[int] = field(default_factory=list)
    doubts: list[int] = field(default_factory=list)
    names: list[int] = field(default_factory=list)


def _alternation(patterns: list[str]) -> str:
    return "|".join(f"(?P<g{i}>{fold(p)})" for i, p in enumerate(patterns))


def _compact(alias: str) -> str:
    return re.sub(r"[\s.+_-]", "", alias)


class MentionMatcher:
    """Finds, in one post, the catalog services it says are down."""

    def __init__(self, catalog: Catalog, threshold: float = SCORE_THRESHOLD) -> None:
        self.threshold = threshold
        self._alias_service: dict[str, str] = {}
        for svc in catalog.services.values():
            names = [svc.name, svc.slug, svc.slug.replace("-", " "), *svc.aliases]
            if paren := re.fullmatch(r"(.+?)\s*\((.+)\)", svc.name):
                names += [paren.group(1), paren.group(2)]
            for name in names:
                self._alias_service.setdefault(fold(name), svc.slug)
        self._compact_service = {_compact(a): s for a, s in self._alias_service.items()}
        by_length = sorted(self._alias_service, key=len, reverse=True)
        arabic = "|".join(re.escape(a) for a in by_length if ARABIC.search(a))
        latin = "|".join(re.escape(a) for a in by_length if not ARABIC.search(a))
        self._names = re.compile(
            rf"(?<!\w)(?:{ARABIC_CLITICS}(?P<ar>{arabic})|(?P<la>{latin}))(?!\w)"
        )
        self._phrases = w.OUTAGE_PHRASES
        self._phrase_re = re.compile(
            rf"(?<![\w#@])(?:{_alternation([p.pattern for p in w.OUTAGE_PHRASES])})(?!\w)"
        )
        self._fine_re = re.compile(
            rf"(?<!\w)(?:{'|'.join(fold(p) for p in w.FINE_PATTERNS)})(?!\w)"
        )
        self._unreal_re = re.compile(rf"(?<!\w)(?:{'|'.join(fold(p) for p in w.UNREAL_PATTERNS)})")
        self._idiom_re = re.compile("|".join(fold(p) for p in w.IDIOMS))
        self._past_re = re.compile(rf"(?<!\w)(?:{'|'.join(fold(p) for p in w.PAST_PATTERNS)})")
        self._joke_re = re.compile(
            rf"(?<![\w/])(?:{'|'.join(fold(p) for p in w.JOKE_PATTERNS)})(?!\w)"
        )
        self._doubt_re = re.compile(
            rf"(?<!\w)(?:{'|'.join(fold(p) for p in w.DOUBT_PATTERNS)})(?!\w)"
        )
        self._ambiguous = {fold(k): v for k, v in w.AMBIGUOUS.items()}
        self._subject_only = {fold(a) for a in w.SUBJECT_ONLY} | {
            a for a in self._alias_service if len(a) <= 2 and a not in w.CLEAR_SHORT
        }

    # -- finding the pieces -----------------------------------------------------------------

    def _find_names(self, post: _Folded) -> list[_Name]:
        text, tokens, starts = post.text, post.tokens, post.starts
        found: list[_Name] = []
        masked = text
        for m in TAG.finditer(text):
            body = _compact(m.group(1))
            hit = self._compact_service.get(body)
            claim = None
            if hit is None:
                hit, claim = self._hashtag_claim(body)
            if hit is not None:
                weak = body in self._subject_only and claim is None
                found.append(
                    _Name(
                        m.start(),
                        m.end(),
                        body,
                        hit,
                        WEAK_NAME if weak else STRONG_NAME,
                        weak,
                        claim,
                    )
                )
                masked = masked[: m.start()] + " " * (m.end() - m.start()) + masked[m.end() :]
        for m in self._names.finditer(masked):
            alias = m.group("ar") or m.group("la")
            assert alias is not None
            deny = self._ambiguous.get(alias)
            if deny:
                i = bisect_left(starts, m.start())
                j = bisect_left(starts, m.end())
                near = tokens[max(0, i - 2) : i] + tokens[j : j + 2]
                if deny.intersection(near):
                    continue
            strength = WEAK_NAME if deny is not None or alias in self._subject_only else STRONG_NAME
            found.append(
                _Name(
                    m.start(),
                    m.end(),
                    alias,
                    self._alias_service[alias],
                    strength,
                    alias in self._subject_only,
                    None,
                )
            )
        return found

    def _hashtag_claim(self, body: str) -> tuple[str | None, str | None]:
        for suffix in w.HASHTAG_SUFFIXES:
            if body.endswith(suffix) and (hit := self._compact_service.get(body[: -len(suffix)])):
                return hit, suffix
        for prefix in w.HASHTAG_PREFIXES:
            if body.startswith(prefix) and (hit := self._compact_service.get(body[len(prefix) :])):
                return hit, prefix
        return None, None

    def _find_cues(self, post: _Folded) -> list[_Cue]:
        text, tokens, starts = post.text, post.tokens, post.starts
        cues: list[_Cue] = []
        taken = [(m.start(), m.end()) for m in self._idiom_re.finditer(text)]
        for m in self._phrase_re.finditer(text):
            assert m.lastgroup is not None
            phrase = self._phrases[int(m.lastgroup[1:])]
            if any(a <= m.start() < b for a, b in taken):
                continue
            i = bisect_left(starts, m.start())
            before = tokens[max(0, i - 3) : i]
            j = bisect_left(starts, m.end())
            glued = j < len(starts) and not text[m.end() : starts[j]].strip()
            if phrase.kind == "state" and self._is_idiom(phrase.pattern, tokens, i, j, glued):
                continue
            if phrase.kind != "ask" and w.METRIC_WORDS.intersection(before):
                continue
            cues.append(
                _Cue(m.start(), m.end(), m.group(), phrase.weight, phrase.kind, phrase.lang)
            )
            taken.append((m.start(), m.end()))
        for m in self._fine_re.finditer(text):
            if not any(a < m.end() and m.start() < b for a, b in taken):
                cues.append(_Cue(m.start(), m.end(), m.group(), 0.0, "fine", None))
        return cues

    @staticmethod
    def _is_idiom(pattern: str, tokens: list[str], i: int, j: int, glued: bool) -> bool:
        """A number after ("down 5%", "caiu 3%"), or "down" in "down bad", "calm down"."""
        if glued and tokens[j].isdigit():
            return True
        if pattern != "down":
            return False
        if glued and (
            tokens[j] in w.DOWN_NOT_AFTER or "_".join(tokens[j : j + 2]) in w.DOWN_NOT_AFTER
        ):
            return True
        return i > 0 and tokens[i - 1] in w.DOWN_NOT_BEFORE

    # -- deciding -----------------------------------------------------------------------------

    def match(self, text: str, lang: str | None = None) -> list[Mention]:
        """The services ``text`` claims are down, best score first; ``lang`` is a hint."""
        folded = fold(text)
        tok = list(TOKEN.finditer(folded))
        post = _Folded(folded, [m.group() for m in tok], [m.start() for m in tok])
        names = self._find_names(post)
        if not names:
            return []
        cues = self._find_cues(post)
        claims = [c for c in cues if c.kind != "fine"]
        if not claims and not any(n.claim for n in names):
            return []
        post.ends = [m.end() for m in CLAUSE_END.finditer(folded)]
        post.commas = [m.start() for m in COMMA.finditer(folded)]
        post.unreal = [(m.start(), m.end()) for m in self._unreal_re.finditer(folded)]
        post.past = [m.start() for m in self._past_re.finditer(folded)]
        post.jokes = [m.start() for m in self._joke_re.finditer(folded)]
        post.doubts = [m.end() for m in self._doubt_re.finditer(folded)]
        language = language_hint(lang) or guess_language(
            text, post.tokens, [c.lang for c in claims]
        )
        post.names = [n.start for n in names]
        best: dict[str, Mention] = {}
        for name in names:
            found = self._judge(post, name, cues, language)
            if found and (name.service not in best or best[name.service].score < found.score):
                best[name.service] = found
        return sorted(
            (m for m in best.values() if m.score >= self.threshold), key=lambda m: -m.score
        )

    def _judge(
        self, post: _Folded, name: _Name, cues: list[_Cue], language: str | None
    ) -> Mention | None:
        """The service's nearest cue in its clause decides; a claim there is scored."""
        clause = bisect_left(post.ends, name.start + 1)
        lo = post.ends[clause - 1] if clause else 0
        hi = post.ends[clause] if clause < len(post.ends) else len(post.text)
        if clause < len(post.ends):  # "snapchat streaks lost?? app is crashing": no new subject
            nxt = post.ends[clause + 1] if clause + 1 < len(post.ends) else len(post.text)
            if not any(hi <= n < nxt for n in post.names):
                hi = nxt
        if any(lo <= j < hi for j in post.jokes):  # "#facebookdown jk", "fb is down. /s"
            return None
        if name.claim:
            return Mention(name.service, HASHTAG_CLAIM, language, f"hashtag #{name.alias}")
        if any(lo <= p < hi for p in post.past):
            return None
        best: tuple[int, _Cue] | None = None
        for cue in cues:
            after = cue.start >= name.end
            if not (lo <= cue.start < hi) or (cue.kind == "fine" and not after):
                continue
            first, second = (name.end, cue.start) if after else (cue.end, name.start)
            if not after and any(first <= c < second for c in post.commas):
                continue  # "my car is broken down, so Netflix it is": another subject's state
            distance = max(0, bisect_left(post.starts, second) - bisect_left(post.starts, first))
            if name.subject_only and (
                not after or distance > 2 or self._other_subject(post, name, cue)
            ):
                continue
            if cue.kind != "fine" and self._unclaimed(post, cue, name, lo):
                cue = cue._replace(weight=0.0, kind="fine")
            rank = distance + (0 if after else 1)  # the predicate usually follows its subject
            if best is None or rank < best[0] or (rank == best[0] and cue.weight > 0):
                best = (rank, cue)
        if best is None or best[1].weight == 0:
            return None
        rank, cue = best
        closeness = 0.15 if rank <= 1 else 0.1 if rank <= 3 else 0.0 if rank <= 8 else -0.15
        score = round(min(1.0, max(0.0, name.strength + cue.weight + closeness)), 3)
        reason = f"{name.alias!r} + {cue.text!r} ({cue.lang}), {rank} words apart"
        return Mention(name.service, score, language or cue.lang, reason)

    @staticmethod
    def _other_subject(post: _Folded, name: _Name, cue: _Cue) -> bool:
        """Whether another service named between a subject-only alias and the claim is the
        claim's subject ("lol discord down again") rather than joined to the alias by a
        conjunction ("face e zap fora do ar")."""
        between = [n for n in post.names if name.end <= n < cue.start]
        if not between:
            return False
        gap = post.text[name.end : between[0]].replace(",", " ").split()
        return not gap or not all(word in w.CONJUNCTIONS for word in gap)

    @staticmethod
    def _unclaimed(post: _Folded, cue: _Cue, name: _Name, lo: int) -> bool:
        """Whether a claim is negated, doubted or wished for rather than made."""
        i = bisect_left(post.starts, cue.start)
        first = i - 3
        if name.end <= cue.start:  # "no, facebook is down": a "no" before the name is an answer
            first = max(first, bisect_left(post.starts, name.end))
        if cue.kind == "state" and w.NEGATIONS.intersection(post.tokens[max(0, first) : i]):
            return True
        if any(lo <= d <= cue.start for d in post.doubts):
            return True
        segment = max([lo, *(c for c in post.commas if c < cue.start)])
        return any(segment <= a and b <= cue.start for a, b in post.unreal)
