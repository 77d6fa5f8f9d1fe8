"""Crowd reports: the wire models, the normalised report, ids, fingerprints and dedupe.

A report arrives as JSON (one, or many in a batch), is checked against the catalog, gets a country
(given, or looked up from the address) and a reporter fingerprint, and leaves this module as a
:class:`Report`, the plain value that the store writes and the counter counts.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, TypeAdapter

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=64)]
UNKNOWN_COUNTRY = "ZZ"  # ISO 3166 user-assigned code: "unknown or unspecified country"


class ReportIn(BaseModel):
    """One report as a person's browser or app sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: Slug = Field(description="Service slug from the catalog, e.g. `facebook`.")
    problem: Slug = Field(description="Problem slug of that service, e.g. `login`.")
    country: CountryCode | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 code; when absent, looked up from the client address.",
    )
    url: str | None = Field(
        default=None, max_length=2000, description="Page the report was made from (not stored)."
    )


class BatchReportIn(ReportIn):
    """One report of a batch from a trusted source (an importer, a partner site, a replay)."""

    # Strict: a number, as documented. Lax, "1709650800" and true (1.0, in 1970) were taken,
    # and the fast path of batch_items already refused them.
    timestamp: Annotated[float, Strict()] | None = Field(
        default=None,
        description="When it happened, epoch seconds; only API keys created with `--trusted` "
        "may set it.",
    )
    reporter: str | None = Field(
        default=None,
        max_length=200,
        description="Opaque id of the person at the source, to count each person once.",
    )


BatchItem = tuple[str, str, str | None, float | None, str | None]
"""A valid batch report as ingest needs it: (service, problem, country, timestamp, reporter)."""

_BATCH_ADAPTER = TypeAdapter(list[BatchReportIn])
_BATCH_FIELDS = frozenset(BatchReportIn.model_fields)


def batch_items(raw: list[Any]) -> list[BatchItem]:
    """Validate a parsed batch exactly as ``list[BatchReportIn]`` does, without the models.

    Building 10,000 model instances was the largest cost of a batch after the commit, and a
    batch needs only five values of each. The loop below accepts a report only when pydantic
    certainly would, with the same values; at the first doubt (a wrong type, an unknown key,
    a length out of bounds…) the whole batch goes through the pydantic adapter, so every
    refusal carries pydantic's own errors, all of them, as before.
    """
    out: list[BatchItem] = []
    append = out.append
    fields = _BATCH_FIELDS
    for d in raw:
        if type(d) is not dict or not fields.issuperset(d):
            break
        service = d.get("service")
        problem = d.get("problem")
        country = d.get("country")
        ts = d.get("timestamp")
        reporter = d.get("reporter")
        url = d.get("url")
        if (
            type(service) is not str
            or type(problem) is not str
            or not 0 < len(service) <= 64
            or not 0 < len(problem) <= 64
        ):
            break
        if country is not None and (
            type(country) is not str
            or len(country) != 2
            or not country.isascii()
            or not country.isalpha()
        ):
            break
        if ts is not None:
            if type(ts) is int and -(2**53) < ts < 2**53:
                ts = float(ts)
            elif type(ts) is not float:
                break
        if reporter is not None and (type(reporter) is not str or len(reporter) > 200):
            break
        if url is not None and (type(url) is not str or len(url) > 2000):
            break
        append((service, problem, country, ts, reporter))
    else:
        return out
    return [
        (m.service, m.problem, m.country, m.timestamp, m.reporter)
        for m in _BATCH_ADAPTER.validate_python(raw)
    ]


class Report(NamedTuple):
    """A validated report, ready to store and count.

    A named tuple because the writer hands it to the database driver as it is: its fields are
    the columns of the ``reports`` table, in order (checked by tests/store).
    """

    id: str
    service_id: int
    problem: str
    country: str
    occurred_ms: int
    received_ms: int
    reporter: str | None
    counted: bool
    source: str
    api_key_id: int | None = None

    @property
    def minute(self) -> int:
        return self.occurred_ms // 60_000 * 60


_random = random.Random()  # seeded from os.urandom: ids need uniqueness, not secrecy


def new_report_id(now_ms: int, random_bits: Callable[[int], int] = _random.getrandbits) -> str:
    """A time-ordered 128-bit id in 32 hex digits: 48 bits of milliseconds, 80 random bits.

    Time-ordered ids keep the primary-key index append-only and make time ranges key ranges,
    and need no round trip to the database, which matters because ingest answers only after
    the commit. (Hex rather than ULID's base 32: formatting is a tenth of the cost, and the id
    is made for every report on the hot path.)
    """
    return f"{now_ms & 0xFFFF_FFFF_FFFF:012x}{random_bits(80):020x}"


def new_report_ids(
    now_ms: int, n: int, random_bits: Callable[[int], int] = _random.getrandbits
) -> list[str]:
    """``n`` ids of :func:`new_report_id` for one millisecond, from one draw of random bits.

    Formatting one 80·n-bit number and cutting it in 20-digit pieces costs a fifth of making
    the ids one by one.
    """
    if n <= 0:
        return []
    prefix = f"{now_ms & 0xFFFF_FFFF_FFFF:012x}"
    digits = f"{random_bits(80 * n):0{20 * n}x}"
    return [prefix + digits[i : i + 20] for i in range(0, 20 * n, 20)]


class Fingerprinter:
    """Keyed hashes of (address, user agent) under a salt that changes every UTC day.

    The salt comes from ``salt_for_day`` (the store keeps today's and yesterday's and deletes
    older ones), so yesterday's fingerprints cannot be recomputed from a guessed address once
    its salt is gone.
    """

    def __init__(self, salt_for_day: Callable[[int], bytes]) -> None:
        self._salt_for_day = salt_for_day
        self._salts: dict[int, bytes] = {}

    def reporter(self, now: float, address: str, user_agent: str) -> str:
        return self._hash(int(now // 86_400), address, user_agent)

    def yesterdays(
        self, now: float, address: str, user_agent: str, within_seconds: float
    ) -> str | None:
        """The same reporter under yesterday's salt, while ``now`` is less than
        ``within_seconds`` past UTC midnight; else None.

        The salt changes at midnight, so someone who reported at 23:59 has another fingerprint
        at 00:01; the dedupe window must look at both, or everyone counts twice at midnight.
        """
        if now % 86_400 >= within_seconds:
            return None
        return self._hash(int(now // 86_400) - 1, address, user_agent)

    def _hash(self, day: int, address: str, user_agent: str) -> str:
        salt = self._salts.get(day)
        if salt is None:
            salt = self._salt_for_day(day)
            self._salts = {d: s for d, s in self._salts.items() if d >= day - 1}
            self._salts[day] = salt
        msg = f"{address}\x00{user_agent}".encode()
        return hmac.new(salt, msg, hashlib.sha256).hexdigest()[:32]


class Deduper:
    """Counts each reporter once per service within a window, as outage sites do.

    In memory, because the check sits on the hot path; :meth:`remember` reloads the window from
    the stored reports after a restart.
    """

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._last: dict[tuple[str, int], float] = {}
        self._next_prune = 0.0

    def first_in_window(
        self, reporter: str | None, service_id: int, now: float, also: str | None = None
    ) -> bool:
        """True if this report counts; records it when it does.

        ``also`` is the same reporter's other fingerprint, if any (under yesterday's salt,
        just after midnight): a report under either within the window means this one does
        not count.
        """
        if reporter is None:
            return True
        if now >= self._next_prune:
            self._prune(now)
        key = (reporter, service_id)
        last = self._last.get(key)
        if last is not None and abs(now - last) < self.window_seconds:
            return False
        if also is not None:
            before = self._last.get((also, service_id))
            if before is not None and abs(now - before) < self.window_seconds:
                return False
        self._last[key] = now
        return True

    def forget(self, reporter: str, service_id: int, at_ms: int) -> None:
        """Undo the record of a report counted at ``at_ms`` that was not accepted after all
        (the store or the stream failed): the reporter's retry must count."""
        key = (reporter, service_id)
        last = self._last.get(key)
        if last is not None and int(last * 1000) == at_ms:
            del self._last[key]

    def remember(self, reporter: str, service_id: int, at: float) -> None:
        key = (reporter, service_id)
        self._last[key] = max(at, self._last.get(key, at))

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_seconds
        self._last = {k: t for k, t in self._last.items() if t > cutoff}
        self._next_prune = now + self.window_seconds / 4

    def __len__(self) -> int:
        return len(self._last)
