"""Where social posts come from: any async iterator of :class:`Post`.

Two sources ship: :class:`JsonLinesSource` (an export, a pipe from another collector, a replay
file) and :class:`MastodonStreamSource` (a Mastodon server's streaming API). A source never
crashes on one bad line or event: it counts it, logs why, and goes on, because a stream that
dies on the first odd post is worse than one that skips it.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import httpx

from panne.clock import Clock, SystemClock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Post:
    """One social post: ``created_at`` in UTC epoch seconds, ``lang`` as the network gives it."""

    id: str
    text: str
    created_at: float
    lang: str | None = None


class PostError(ValueError):
    """A line or event that is not a usable post; the message says why."""


def parse_time(value: Any, default: float) -> float:
    """ISO 8601 (``Z`` or an offset; naive means UTC) or epoch seconds; ``default`` if absent."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PostError(f"created_at {value!r} is neither ISO 8601 nor epoch seconds")
    if isinstance(value, int | float):
        return float(value)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PostError(f"created_at {value!r} is not ISO 8601") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def post_from_dict(obj: Any, now: float) -> Post:
    """A :class:`Post` from ``{"text", "id"?, "created_at"?, "lang"?}``."""
    if not isinstance(obj, dict):
        raise PostError("not a JSON object")
    text = obj.get("text")
    if not isinstance(text, str):
        raise PostError("'text' is missing or not a string")
    lang = obj.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise PostError("'lang' must be a string")
    created_at = parse_time(obj.get("created_at"), now)
    raw_id = obj.get("id")
    if raw_id is None:  # a stable id, so a replayed file is deduplicated like a live stream
        raw_id = "sha1:" + hashlib.sha1(f"{created_at}\0{text}".encode()).hexdigest()
    elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise PostError("'id' must be a string or an integer")
    return Post(str(raw_id), text, created_at, lang or None)


class JsonLinesSource:
    """Posts from JSON lines, one object a line, from a sync or async iterable of lines."""

    def __init__(
        self, stream: Iterable[str | bytes] | AsyncIterable[str | bytes], clock: Clock | None = None
    ) -> None:
        self._stream = stream
        self._clock = clock or SystemClock()
        self.bad_lines = 0

    async def _lines(self) -> AsyncIterator[str | bytes]:
        if isinstance(self._stream, AsyncIterable):
            async for line in self._stream:
                yield line
        else:
            for line in self._stream:
                yield line

    async def __aiter__(self) -> AsyncIterator[Post]:
        number = 0
        async for raw in self._lines():
            number += 1
            try:
                line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                if not line.strip():
                    continue
                yield post_from_dict(json.loads(line), self._clock.now())
            except (UnicodeDecodeError, json.JSONDecodeError, PostError) as exc:
                self.bad_lines += 1
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                log.warning("social posts: line %d skipped: %s", number, reason)


class _TextOfHtml(HTMLParser):
    """The readable text of a status: tags dropped, paragraphs and breaks kept as new lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0  # Mastodon hides URL scheme and tail in <span class="invisible">

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif (tag == "span" and ("class", "invisible") in attrs) or (
            tag == "span" and self._hidden
        ):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.parts.append("\n")
        elif tag == "span" and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(content: str) -> str:
    """Status HTML to plain text; entities unescaped (``&amp;`` → ``&``)."""
    parser = _TextOfHtml()
    parser.feed(content)
    parser.close()
    return html.unescape("".join(parser.parts)).strip()


def post_from_status(status: Any) -> Post | None:
    """A :class:`Post` from a Mastodon status, or None for a boost (its original was counted)."""
    if not isinstance(status, dict):
        raise PostError("status is not a JSON object")
    if status.get("reblog"):
        return None
    content, sid = status.get("content"), status.get("id")
    if not isinstance(content, str) or not isinstance(sid, str | int):
        raise PostError("status without 'content' or 'id'")
    text = html_to_text(content)
    warning = status.get("spoiler_text")
    if isinstance(warning, str) and warning:
        text = f"{warning}\n{text}"
    created_at = status.get("created_at")
    if not isinstance(created_at, str):
        raise PostError("status without 'created_at'")
    lang = status.get("language")
    return Post(
        str(sid), text, parse_time(created_at, 0.0), lang if isinstance(lang, str) else None
    )


class MastodonStreamSource:
    """Statuses from the streaming API (``/api/v1/streaming/public`` or a hashtag stream).

    The server sends server-sent events: ``event: update`` then ``data: {status}``, a blank line
    ending each event, and ``:`` heartbeats. Only ``update`` events are posts; the iteration ends
    when the server closes the stream (a caller that wants for ever reconnects with back-off).
    """

    def __init__(
        self,
        url: str,
        *,
        access_token: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self._token = access_token
        self._client = client
        self.bad_events = 0

    def __repr__(self) -> str:
        return f"MastodonStreamSource({self.url!r}, access_token={'***' if self._token else None})"

    async def __aiter__(self) -> AsyncIterator[Post]:
        headers = {"Accept": "text/event-stream"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        client = self._client or httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=120.0))
        try:
            async with client.stream("GET", self.url, headers=headers) as response:
                response.raise_for_status()
                event, data = "message", []
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        continue
                    if line:
                        field, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        if field == "event":
                            event = value
                        elif field == "data":
                            data.append(value)
                        continue
                    if event == "update" and data:
                        post = self._post("\n".join(data))
                        if post is not None:
                            yield post
                    event, data = "message", []
        finally:
            if self._client is None:
                await client.aclose()

    def _post(self, data: str) -> Post | None:
        try:
            return post_from_status(json.loads(data))
        except (json.JSONDecodeError, PostError) as exc:
            self.bad_events += 1
            log.warning("mastodon stream %s: update skipped: %s", self.url, exc)
            return None
