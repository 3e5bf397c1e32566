"""Customer identities for the simulated shop: names from faker, real cities, phones and unique emails."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Country:
    name: str
    locale: str
    share: float
    phone_format: str  # each X becomes a digit
    cities: tuple[str, ...]  # biggest first: city popularity falls with rank


COUNTRIES: tuple[Country, ...] = (
    Country(
        "United States", "en_US", 0.40, "+1 NXX-XXX-XXXX",
        ("New York", "Los Angeles", "Chicago", "Houston", "Phoenix", "Philadelphia", "San Antonio",
         "San Diego", "Dallas", "Austin", "Seattle", "Denver", "Boston", "Atlanta", "Miami",
         "Portland", "San Francisco", "Minneapolis"),
    ),
    Country(
        "United Kingdom", "en_GB", 0.14, "+44 7XXX XXXXXX",
        ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Liverpool", "Bristol",
         "Edinburgh", "Sheffield", "Newcastle upon Tyne", "Cardiff", "Nottingham"),
    ),
    Country(
        "Canada", "en_CA", 0.09, "+1 NXX-XXX-XXXX",
        ("Toronto", "Montreal", "Vancouver", "Calgary", "Edmonton", "Ottawa", "Winnipeg",
         "Quebec City", "Halifax", "Victoria"),
    ),
    Country(
        "Germany", "de_DE", 0.10, "+49 15X XXXXXXXX",
        ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt", "Stuttgart", "Düsseldorf",
         "Leipzig", "Dortmund", "Dresden", "Bremen", "Hanover"),
    ),
    Country(
        "France", "fr_FR", 0.08, "+33 6 XX XX XX XX",
        ("Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Strasbourg", "Montpellier",
         "Bordeaux", "Lille", "Rennes"),
    ),
    Country(
        "Australia", "en_AU", 0.07, "+61 4XX XXX XXX",
        ("Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide", "Gold Coast", "Canberra",
         "Hobart", "Darwin"),
    ),
    Country(
        "Spain", "es_ES", 0.05, "+34 6XX XXX XXX",
        ("Madrid", "Barcelona", "Valencia", "Seville", "Zaragoza", "Málaga", "Bilbao", "Palma",
         "Alicante", "Granada"),
    ),
    Country(
        "Italy", "it_IT", 0.04, "+39 3XX XXX XXXX",
        ("Rome", "Milan", "Naples", "Turin", "Palermo", "Genoa", "Bologna", "Florence", "Bari",
         "Venice", "Verona"),
    ),
    Country(
        "Netherlands", "nl_NL", 0.03, "+31 6 XXXXXXXX",
        ("Amsterdam", "Rotterdam", "The Hague", "Utrecht", "Eindhoven", "Groningen", "Tilburg",
         "Almere", "Breda", "Nijmegen"),
    ),
)  # fmt: skip

COUNTRY_SHARE = np.array([c.share for c in COUNTRIES]) / sum(c.share for c in COUNTRIES)
COUNTRY_INDEX = {c.name: i for i, c in enumerate(COUNTRIES)}

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me", "aol.com")
EMAIL_DOMAIN_SHARE = np.array([0.42, 0.14, 0.14, 0.10, 0.12, 0.04, 0.04])
EMAIL_PATTERNS = 5

_NAMES_PER_LOCALE = 400
_NOT_EMAIL_SAFE = re.compile(r"[^a-z]")


def city_share(country: Country) -> np.ndarray:
    """Popularity of each of the country's cities: Zipf-like by rank."""
    weights = 1.0 / np.arange(1, len(country.cities) + 1) ** 0.8
    return weights / weights.sum()


@lru_cache(maxsize=8)
def name_pools(seed: int) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """(first names, last names) per country, drawn once from faker seeded with `seed`.

    Faker draws names with their real-world frequencies, so sampling uniformly from a pool keeps
    common names common. Drawing pools once keeps per-customer generation a numpy index.
    """
    from faker import Faker  # import cost (~0.5 s) only when customers are generated

    pools = []
    for index, country in enumerate(COUNTRIES):
        fake = Faker(country.locale)
        fake.seed_instance(seed * 101 + index)
        firsts = tuple(fake.first_name() for _ in range(_NAMES_PER_LOCALE))
        lasts = tuple(fake.last_name() for _ in range(_NAMES_PER_LOCALE))
        pools.append((firsts, lasts))
    return tuple(pools)


def _email_safe(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return _NOT_EMAIL_SAFE.sub("", ascii_name) or "customer"


def make_email(first: str, last: str, customer_id: int, pattern: int, domain: int) -> str:
    """An email unique across customers: the local part always ends with the customer id.

    Names are reduced to letters, so the trailing digits are exactly the id and no two customers
    can share an address, whatever patterns and domains they pick.
    """
    f, lst = _email_safe(first), _email_safe(last)
    local = (
        f"{f}.{lst}",
        f"{f}{lst}",
        f"{f[0]}{lst}",
        f"{f}_{lst}",
        f"{lst}.{f}",
    )[pattern % EMAIL_PATTERNS]
    return f"{local}{customer_id}@{EMAIL_DOMAINS[domain % len(EMAIL_DOMAINS)]}"


def make_phone(rng: np.random.Generator, country: Country) -> str:
    """A phone number in the country's mobile format."""
    digits = iter(rng.integers(0, 10, size=country.phone_format.count("X")).tolist())
    first = int(rng.integers(2, 10))
    out = []
    for ch in country.phone_format:
        if ch == "X":
            out.append(str(next(digits)))
        elif ch == "N":
            out.append(str(first))
        else:
            out.append(ch)
    return "".join(out)
