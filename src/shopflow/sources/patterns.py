"""Traffic patterns and deterministic randomness shared by the shop simulator and the clickstream."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

# Share of a day's activity in each UTC hour (percent). Trough at 03:00-05:00, an afternoon peak at
# 15:00 and a higher evening peak at 22:00. The smallest hour holds 1.6%, so even a quiet day at
# scale 1 has traffic in all 24 hours.
HOUR_WEIGHTS = np.array(
    [
        3.2, 2.4, 1.9, 1.6, 1.6, 1.7, 2.2, 3.0, 3.7, 4.3, 4.7, 5.0,
        5.2, 5.4, 5.8, 6.1, 5.6, 5.0, 4.8, 5.1, 5.6, 6.1, 6.3, 4.8,
    ]
)  # fmt: skip
HOUR_SHARE = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()

# Monday .. Sunday: weekdays are busier than weekends.
WEEKDAY_FACTOR = np.array([1.08, 1.06, 1.04, 1.03, 0.98, 0.86, 0.95])

# January .. December: a summer lull and the Nov/Dec holiday peak.
MONTH_FACTOR = np.array([0.85, 0.82, 0.90, 0.92, 0.95, 0.92, 0.88, 0.90, 0.95, 1.00, 1.30, 1.50])

SECONDS_PER_DAY = 86_400


def _black_friday(year: int) -> date:
    """The day after the fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def _raw_day_factor(day: date) -> float:
    factor = WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR[day.month - 1]
    black_friday = _black_friday(day.year)
    if day == black_friday:
        factor *= 2.6
    elif day == black_friday + timedelta(days=3):  # Cyber Monday
        factor *= 2.0
    elif black_friday < day < black_friday + timedelta(days=3):
        factor *= 1.5
    elif day.month == 12 and day.day in (24, 25, 26):
        factor *= 0.7
    return float(factor)


@lru_cache(maxsize=64)
def _year_mean(year: int) -> float:
    start = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - start).days
    return float(np.mean([_raw_day_factor(start + timedelta(days=i)) for i in range(days)]))


def day_factor(day: date) -> float:
    """Relative volume of `day` (weekday, season, holiday peaks), normalised to average 1 over its year."""
    return _raw_day_factor(day) / _year_mean(day.year)


def day_rng(seed: int, day: date, stream: int) -> np.random.Generator:
    """An RNG that depends only on (seed, day, stream): any day can be re-simulated alone, identically."""
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, day.toordinal(), stream])


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, element-wise on uint64 (array arithmetic wraps modulo 2**64)."""
    z = np.asarray(values, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def keyed_uniform(seed: int, stream: int, keys: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1) that are a pure function of (seed, stream, key), vectorised over keys.

    Used for facts fixed at creation (an order's lifecycle, a customer's appetite) so they need not
    be stored: the simulator re-derives them from the ids it reads back.
    """
    salt = mix64(np.array([(seed & 0xFFFFFFFFFFFF) * 1_000_003 + stream], dtype=np.uint64))
    h = mix64(np.asarray(keys, dtype=np.uint64) ^ salt)
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def seconds_in_day(rng: np.random.Generator, n: int, *, min_second: int = 0) -> np.ndarray:
    """`n` whole seconds since midnight following the hour-of-day curve, each >= `min_second`."""
    hours = rng.choice(24, size=n, p=HOUR_SHARE)
    seconds = hours * 3600 + rng.integers(0, 3600, size=n)
    return np.maximum(seconds, min_second).astype(np.int64)
