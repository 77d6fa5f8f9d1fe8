"""The shape of normal crowd-report traffic: countries, local daily and weekly rhythms, growth.

People report when something is wrong, so even a giant has a low background (tens of reports a
minute) that follows its users' day: quiet at 4 am local time, busiest in the evening, a little
different at weekends. Each country keeps its own clock, with daylight saving where it applies,
so the world total is a sum of shifted curves that moves by an hour twice a year.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

import numpy as np

# (code, share of a global service's users, standard UTC offset in hours, DST rule)
COUNTRIES: tuple[tuple[str, float, float, str | None], ...] = (
    ("US", 0.24, -5, "us"),
    ("GB", 0.07, 0, "eu"),
    ("IN", 0.09, 5.5, None),
    ("BR", 0.08, -3, None),
    ("FR", 0.05, 1, "eu"),
    ("DE", 0.05, 1, "eu"),
    ("MX", 0.04, -6, None),
    ("CA", 0.03, -5, "us"),
    ("JP", 0.04, 9, None),
    ("ID", 0.04, 7, None),
    ("PH", 0.03, 8, None),
    ("TR", 0.03, 3, None),
    ("IT", 0.03, 1, "eu"),
    ("ES", 0.03, 1, "eu"),
    ("NG", 0.02, 1, None),
    ("EG", 0.02, 2, None),
    ("AU", 0.02, 10, None),
    ("SA", 0.02, 3, None),
    ("PK", 0.02, 5, None),
    ("TN", 0.01, 1, None),
    ("AR", 0.02, -3, None),
    ("PL", 0.02, 1, "eu"),
    ("NL", 0.02, 1, "eu"),
)
CODES = tuple(c[0] for c in COUNTRIES)
_WEIGHTS = np.array([c[1] for c in COUNTRIES]) / sum(c[1] for c in COUNTRIES)
_OFFSETS = np.array([c[2] for c in COUNTRIES], dtype=float)

# Relative activity by local hour (0..23): low before dawn, a lunch plateau, an evening peak.
_HOURLY = np.array(
    [0.35, 0.25, 0.18, 0.14, 0.13, 0.16, 0.25, 0.40, 0.55, 0.65, 0.70, 0.74,
     0.78, 0.78, 0.76, 0.76, 0.80, 0.86, 0.93, 1.00, 1.00, 0.92, 0.75, 0.52]
)  # fmt: skip

# Background reports per minute at a normal daily peak, worldwide. Unknown services get a
# small default; the spread is what makes detection hard at both ends.
VOLUME: dict[str, float] = {
    "facebook": 60,
    "instagram": 45,
    "whatsapp": 50,
    "youtube": 40,
    "x": 35,
    "tiktok": 30,
    "messenger": 12,
    "threads": 6,
    "gmail": 20,
    "google": 15,
    "outlook": 15,
    "netflix": 18,
    "snapchat": 12,
    "discord": 14,
    "telegram": 12,
    "spotify": 12,
    "reddit": 10,
    "amazon": 12,
    "aws": 8,
    "azure": 6,
    "chatgpt": 25,
    "teams": 10,
    "zoom": 8,
    "roblox": 10,
    "fortnite": 9,
    "steam": 8,
    "playstation-network": 10,
    "xbox-live": 7,
    "paypal": 6,
    "icloud": 6,
    "linkedin": 4,
    "twitch": 5,
    "slack": 4,
    "github": 3,
    "cloudflare": 3,
    "signal": 2,
    "bluesky": 1.5,
    "mastodon": 0.2,
}
DEFAULT_VOLUME = 0.8


def _nth_sunday(year: int, month: int, n: int) -> int:
    """Day of month of the n-th Sunday (n = -1 for the last)."""
    days = [d for d, wd in calendar.Calendar().itermonthdays2(year, month) if d and wd == 6]
    return days[n]


def _dst_active(rule: str | None, ts: np.ndarray) -> np.ndarray:
    """Whether daylight saving time is in force at each UTC time, by the US or EU rule."""
    if rule is None:
        return np.zeros(ts.shape, dtype=bool)
    years = (1970 + ts // 31_556_952).astype(int)  # close enough to pick the year
    out = np.zeros(ts.shape, dtype=bool)
    for year in np.unique(years):
        if rule == "us":  # 2 am local: second Sunday of March to first Sunday of November
            start = calendar.timegm((year, 3, _nth_sunday(year, 3, 1), 7, 0, 0))
            end = calendar.timegm((year, 11, _nth_sunday(year, 11, 0), 6, 0, 0))
        else:  # 1 am UTC: last Sunday of March to last Sunday of October
            start = calendar.timegm((year, 3, _nth_sunday(year, 3, -1), 1, 0, 0))
            end = calendar.timegm((year, 10, _nth_sunday(year, 10, -1), 1, 0, 0))
        sel = years == year
        out[sel] = (ts[sel] >= start) & (ts[sel] < end)
    return out


def dst_changes(start: float, end: float) -> list[tuple[float, str]]:
    """UTC times in [start, end) when the US or the EU changes its clocks."""
    found = []
    minutes = np.arange(int(start // 3600) * 3600, end, 3600, dtype=np.int64)
    for rule in ("us", "eu"):
        active = _dst_active(rule, minutes)
        for i in np.flatnonzero(active[1:] != active[:-1]):
            found.append((float(minutes[i + 1]), rule))
    return sorted(found)


@dataclass(frozen=True)
class Rhythm:
    """Per-country activity over time for one set of countries."""

    codes: tuple[str, ...] = CODES

    def weights(self) -> np.ndarray:
        idx = [CODES.index(c) for c in self.codes]
        w: np.ndarray = _WEIGHTS[idx]
        return w / float(w.sum())

    def activity(self, ts: np.ndarray) -> np.ndarray:
        """Shape (len(ts), countries): each country's relative activity at UTC times ``ts``."""
        idx = [CODES.index(c) for c in self.codes]
        out = np.empty((ts.size, len(idx)))
        for j, i in enumerate(idx):
            offset = _OFFSETS[i] + _dst_active(COUNTRIES[i][3], ts)
            local = (ts / 3600.0 + offset) % 24.0
            lo = np.floor(local).astype(int)
            frac = local - lo
            daily = _HOURLY[lo] * (1 - frac) + _HOURLY[(lo + 1) % 24] * frac
            weekday = ((ts + offset * 3600) // 86_400 + 3) % 7  # 0 = Monday
            weekly = np.where(weekday >= 5, 1.08, 1.0)
            out[:, j] = daily * weekly
        return out


def background_mix(problems: tuple[str, ...]) -> np.ndarray:
    """The usual spread of problems when nothing is wrong: the first listed most often."""
    w = 1.0 / (np.arange(len(problems)) + 1.5)
    if problems and problems[-1] == "other":
        w[-1] = w.mean()
    out: np.ndarray = w / float(w.sum())
    return out
