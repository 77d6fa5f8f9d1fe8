"""The backtest's CSV, read and written by compiled passes over its bytes.

A year of one series is half a million lines: split, parsed and formatted one by one in
Python, they took twice as long as the detector itself. These passes read the files exports
write (no quotes; times such as ``2024-03-05T14:00:00Z``, ``2024-03-05 14:00`` or with
``+00:00``; counts in plain decimal digits) and say at which row a file leaves that form, so
that the caller reads it the general way instead, which also words the error when there is one.

What they read is what the general way reads, value for value: a time is the same instant
``datetime.fromisoformat`` gives, a count the same double ``float`` gives (at most 15 digits
over a power of ten, both exact, so one correctly rounded division). What they write is what
``format(x, ".3f")`` writes, character for character: the double's exact binary value times
10^k is an integer times a power of two, rounded half to even as Python rounds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from panne.detect.kernels import _jit

COMMA, QUOTE, CR, LF = 44, 34, 13, 10
MAX_DIGITS = 15  # a count's digits: below 2**53, so exactly a double
FIXED_LIMIT = 2.0**40  # below it a value times 10**4 keeps its binary point inside 64 bits
ADDED_WIDTH = 48  # bytes written after a line, at the most: 42 (see formatted)
_POWERS = np.array([10.0**i for i in range(MAX_DIGITS + 1)])  # exact doubles
_U1 = np.uint64(1)


@dataclass(frozen=True)
class Parsed:
    """A file's data rows, read: per row its epoch seconds, count and series code (the
    series in order of first appearance, ``firsts`` the row where each appears first)."""

    times: np.ndarray
    counts: np.ndarray
    codes: np.ndarray
    firsts: np.ndarray


def line_spans(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Where each non-empty line starts and ends (its line break left out). CR, LF and CRLF
    end lines, as the csv module reads them; blank lines are left out."""
    most = data.count(b"\n") + data.count(b"\r") + 1
    return _spans(np.frombuffer(data, dtype=np.uint8), most)


@_jit
def _spans(buf: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.empty(most, dtype=np.int64)
    ends = np.empty(most, dtype=np.int64)
    n = 0
    start = 0
    for j in range(buf.size + 1):
        if j == buf.size or buf[j] == LF or buf[j] == CR:
            if j > start:
                starts[n] = start
                ends[n] = j
                n += 1
            start = j + 1
    return starts[:n], ends[:n]


def parse(
    data: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    columns: int,
    time_column: int,
    count_column: int,
    series_column: int | None,
) -> Parsed | int:
    """The rows read, or the index of the first row that is not in the usual form."""
    buf = np.frombuffer(data, dtype=np.uint8)
    key = -1 if series_column is None else series_column
    bad, times, counts, codes, firsts = _parse(
        buf, starts, ends, columns, time_column, count_column, key, _POWERS
    )
    return Parsed(times, counts, codes, firsts) if bad < 0 else int(bad)


@_jit
def _parse(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    columns: int,
    time_column: int,
    count_column: int,
    series_column: int,
    powers: np.ndarray,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = starts.size
    times = np.empty(n, dtype=np.float64)
    counts = np.empty(n, dtype=np.float64)
    codes = np.zeros(n, dtype=np.int64)
    bounds = np.empty(columns + 1, dtype=np.int64)
    # The series column's names, by hash, in an open-addressing table that doubles when half
    # full; a name's slot holds its code, and its first row's field for the byte comparison.
    slots = np.full(64, -1, dtype=np.int64)
    hashes = np.zeros(64, dtype=np.uint64)
    firsts = np.zeros(32, dtype=np.int64)
    key_from = np.zeros(32, dtype=np.int64)
    key_to = np.zeros(32, dtype=np.int64)
    named = 0 if series_column >= 0 else 1
    for i in range(n):
        fields = 0
        bounds[0] = starts[i]
        for j in range(starts[i], ends[i]):
            c = buf[j]
            if c == QUOTE:
                return i, times, counts, codes, firsts
            if c == COMMA:
                fields += 1
                if fields == columns:
                    return i, times, counts, codes, firsts
                bounds[fields] = j + 1
        if fields != columns - 1:
            return i, times, counts, codes, firsts
        bounds[columns] = ends[i] + 1
        t = _instant(buf, bounds[time_column], bounds[time_column + 1] - 1)
        x = _count(buf, bounds[count_column], bounds[count_column + 1] - 1, powers)
        if np.isnan(t) or x < 0:
            return i, times, counts, codes, firsts
        times[i] = t
        counts[i] = x
        if series_column < 0:
            continue
        a, b = bounds[series_column], bounds[series_column + 1] - 1
        h = _fnv(buf, a, b)
        mask = slots.size - 1
        s = np.int64(h & np.uint64(mask))
        k = slots[s]
        while k >= 0 and not (hashes[s] == h and _same(buf, a, b, key_from[k], key_to[k])):
            s = (s + 1) & mask
            k = slots[s]
        if k < 0:  # a name not seen before
            k = named
            named += 1
            slots[s], hashes[s] = k, h
            if named > firsts.size:
                firsts, key_from, key_to = _grown(firsts), _grown(key_from), _grown(key_to)
            firsts[k], key_from[k], key_to[k] = i, a, b
            if 2 * named > slots.size:
                slots, hashes = _rehashed(slots, hashes)
        codes[i] = k
    return -1, times, counts, codes, firsts[:named]


@_jit
def _grown(a: np.ndarray) -> np.ndarray:
    out = np.zeros(2 * a.size, dtype=np.int64)
    for i in range(a.size):
        out[i] = a[i]
    return out


@_jit
def _rehashed(slots: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    new_slots = np.full(2 * slots.size, -1, dtype=np.int64)
    new_hashes = np.zeros(2 * slots.size, dtype=np.uint64)
    mask = new_slots.size - 1
    for s in range(slots.size):
        if slots[s] >= 0:
            t = np.int64(hashes[s] & np.uint64(mask))
            while new_slots[t] >= 0:
                t = (t + 1) & mask
            new_slots[t], new_hashes[t] = slots[s], hashes[s]
    return new_slots, new_hashes


@_jit
def _fnv(buf: np.ndarray, a: int, b: int) -> np.uint64:
    h = np.uint64(14695981039346656037)
    for j in range(a, b):
        h = (h ^ np.uint64(buf[j])) * np.uint64(1099511628211)
    return h


@_jit
def _same(buf: np.ndarray, a: int, b: int, c: int, d: int) -> bool:
    if b - a != d - c:
        return False
    for j in range(b - a):  # noqa: SIM110 (a generator does not compile)
        if buf[a + j] != buf[c + j]:
            return False
    return True


@_jit
def _digits(buf: np.ndarray, a: int, width: int) -> int:
    """The number written in ``width`` digits from ``a``, or -1."""
    v = 0
    for j in range(a, a + width):
        d = int(buf[j]) - 48
        if d < 0 or d > 9:
            return -1
        v = 10 * v + d
    return v


@_jit
def _instant(buf: np.ndarray, a: int, b: int) -> float:
    """Epoch seconds of ``YYYY-MM-DD[T ]HH:MM[:SS]`` with nothing, ``Z`` or ``+00:00`` after
    it; NaN for any other text, or for a day or time that does not exist."""
    width = b - a
    if width < 16 or buf[a + 4] != 45 or buf[a + 7] != 45 or buf[a + 13] != 58:
        return np.nan
    if buf[a + 10] != 84 and buf[a + 10] != 32:  # "T" or " "
        return np.nan
    year, month, day = _digits(buf, a, 4), _digits(buf, a + 5, 2), _digits(buf, a + 8, 2)
    hour, minute, second = _digits(buf, a + 11, 2), _digits(buf, a + 14, 2), 0
    end = a + 16
    if width >= 19 and buf[end] == 58:  # ":SS"
        second = _digits(buf, end + 1, 2)
        end += 3
    rest = b - end
    if not (
        rest == 0
        or (rest == 1 and buf[end] == 90)  # "Z"
        or (
            rest == 6
            and buf[end] == 43  # "+00:00"
            and buf[end + 1] == 48
            and buf[end + 2] == 48
            and buf[end + 3] == 58
            and buf[end + 4] == 48
            and buf[end + 5] == 48
        )
    ):
        return np.nan
    if year < 1 or not 1 <= month <= 12 or hour < 0 or hour > 23:
        return np.nan
    if minute < 0 or minute > 59 or second < 0 or second > 59:
        return np.nan
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if month == 2:
        month_days = 29 if leap else 28
    elif month == 4 or month == 6 or month == 9 or month == 11:
        month_days = 30
    else:
        month_days = 31
    if day < 1 or day > month_days:
        return np.nan
    # Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return float(days * 86400 + hour * 3600 + minute * 60 + second)


@_jit
def _count(buf: np.ndarray, a: int, b: int, powers: np.ndarray) -> float:
    """A count written in decimal digits with at most one point (``12``, ``0.5``, ``3.``);
    -1 for any other text or for more than 15 digits."""
    mantissa = 0
    digits = 0
    decimals = -1  # digits after the point, once there is one
    for j in range(a, b):
        c = int(buf[j])
        if c == 46 and decimals < 0:
            decimals = 0
            continue
        d = c - 48
        if d < 0 or d > 9:
            return -1.0
        mantissa = 10 * mantissa + d
        digits += 1
        if decimals >= 0:
            decimals += 1
    if digits == 0 or digits > MAX_DIGITS:
        return -1.0
    return float(mantissa / powers[max(decimals, 0)])


def writable(values: np.ndarray) -> bool:
    """Whether :func:`write_rows` writes these values: finite and below 2**40 in size."""
    return bool((np.abs(values) < FIXED_LIMIT).all())


def formatted(
    data: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    expected: np.ndarray,
    score: np.ndarray,
    alert: np.ndarray,
    chunk: int = 1 << 16,
) -> Iterator[bytes]:
    """Each row's line as written, then ``,expected,score,alert`` as ``{:.3f}``, ``{:.4f}``
    and 0 or 1, in pieces of ``chunk`` rows (the output is never held whole)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    e_bits = np.ascontiguousarray(expected, dtype=np.float64).view(np.uint64)
    s_bits = np.ascontiguousarray(score, dtype=np.float64).view(np.uint64)
    flags = np.ascontiguousarray(alert, dtype=np.bool_)
    # A line, then at most ",-1099511627775.999,-1099511627775.9999,1\n" (values < 2**40).
    widest = int((ends - starts).max(initial=0)) + ADDED_WIDTH
    out = np.empty(chunk * widest, dtype=np.uint8)
    for i in range(0, starts.size, chunk):
        j = min(i + chunk, starts.size)
        used = _format(buf, starts, ends, e_bits, s_bits, flags, i, j, out)
        yield out[:used].tobytes()


@_jit
def _format(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    e_bits: np.ndarray,
    s_bits: np.ndarray,
    alert: np.ndarray,
    first: int,
    last: int,
    out: np.ndarray,
) -> int:
    o = 0
    for i in range(first, last):
        for j in range(starts[i], ends[i]):
            out[o] = buf[j]
            o += 1
        out[o] = COMMA
        o = _fixed(out, o + 1, e_bits[i], 3, 125, 1000)
        out[o] = COMMA
        o = _fixed(out, o + 1, s_bits[i], 4, 625, 10000)
        out[o] = COMMA
        out[o + 1] = 49 if alert[i] else 48
        out[o + 2] = LF
        o += 3
    return o


@_jit
def _fixed(out: np.ndarray, o: int, bits: np.uint64, k: int, five_k: int, ten_k: int) -> int:
    """Writes the double with these bits as ``format(x, f".{k}f")`` does; returns the next
    position. ``five_k`` is 5**k and ``ten_k`` 10**k; the double is below 2**40."""
    exponent = int((bits >> np.uint64(52)) & np.uint64(0x7FF))
    mantissa = bits & np.uint64((1 << 52) - 1)
    if exponent:
        mantissa |= np.uint64(1 << 52)
    else:
        exponent = 1
    # x = mantissa * 2**(exponent - 1075); x * 10**k = mantissa * 5**k * 2**(exponent-1075+k)
    scaled = mantissa * np.uint64(five_k)  # below 2**63
    shift = 1075 - k - exponent  # positive: x * 10**k has a fraction
    if shift >= 64:
        q = np.uint64(0)
    else:
        step = np.uint64(shift)
        q = scaled >> step
        rest = scaled & ((_U1 << step) - _U1)
        half = _U1 << (step - _U1)
        if rest > half or (rest == half and q & _U1):
            q += _U1
    if bits >> np.uint64(63):
        out[o] = 45  # "-", also for -0.0 and what rounds to it, as Python writes
        o += 1
    whole, part = q // np.uint64(ten_k), q % np.uint64(ten_k)
    width = 1
    left = whole // np.uint64(10)
    while left:
        width += 1
        left //= np.uint64(10)
    for j in range(width - 1, -1, -1):
        out[o + j] = 48 + int(whole % np.uint64(10))
        whole //= np.uint64(10)
    o += width
    out[o] = 46  # "."
    for j in range(k, 0, -1):
        out[o + j] = 48 + int(part % np.uint64(10))
        part //= np.uint64(10)
    return o + k + 1
