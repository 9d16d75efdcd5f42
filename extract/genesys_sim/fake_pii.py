"""Realistic but fictional PII for the simulator: names, phone numbers, emails, account numbers.

Phone numbers stay inside fictional or reserved ranges where one exists (US 555-01xx, UK Ofcom
drama range 07700 900xxx), so generated data never dials a real person.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence

FIRST_NAMES = (
    "Jane", "John", "Maria", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sofia", "Lucas",
    "Chloe", "Ethan", "Aisha", "Omar", "Grace", "Daniel", "Lucia", "Pablo", "Carmen", "Javier",
    "Andre", "Keisha", "Marcus", "Tanya", "Shanice", "Devon", "Oliver", "Amelia", "Harry",
    "Isla", "George", "Freya", "Ava", "Mia", "James", "Priya", "Wei", "Yuki", "Fatima", "Ines",
)  # fmt: skip
LAST_NAMES = (
    "Doe", "Smith", "Johnson", "Garcia", "Martinez", "Brown", "Williams", "Campbell", "Thompson",
    "Clarke", "Fernandez", "Lopez", "Sanchez", "Ruiz", "Moreno", "Alvarez", "Taylor", "Wilson",
    "Evans", "Walker", "Wright", "Patel", "Khan", "Nguyen", "Kim", "Okafor", "Mensah", "Reid",
    "Bailey", "Grant", "Morgan", "Hughes", "Murphy", "O'Brien", "Kowalski", "Novak", "Silva",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.co.uk")
CITIES = ("NEW YORK NY", "CHICAGO IL", "KINGSTON JM", "LONDON GB", "MADRID ES", "DALLAS TX")

# (weight, generator of E.164 digits without '+'), for customer numbers.
_US_AREAS = ("212", "305", "312", "415", "512", "617", "702", "917")


def _pick(rng: random.Random, seq: Sequence[str]) -> str:
    # random() is several times cheaper than choice()/randrange(): this runs per conversation.
    return seq[int(rng.random() * len(seq))]


def _digits(rng: random.Random, n: int) -> str:
    return f"{int(rng.random() * 10**n):0{n}d}"


def us_number(rng: random.Random) -> str:
    return "1" + _pick(rng, _US_AREAS) + "55501" + _digits(rng, 2)


def jamaica_number(rng: random.Random) -> str:
    return "1876" + _pick(rng, "3459") + _digits(rng, 6)


def uk_number(rng: random.Random) -> str:
    return "447700900" + _digits(rng, 3)


def spain_landline(rng: random.Random) -> str:
    return "349" + _pick(rng, "1135") + _digits(rng, 7)


def spain_mobile(rng: random.Random) -> str:
    return "346" + _digits(rng, 8)


def toll_free(rng: random.Random) -> str:
    return "1800555" + _digits(rng, 4)


_CUSTOMER_NUMBERS = (us_number, jamaica_number, uk_number, spain_landline, spain_mobile)
_CUSTOMER_WEIGHTS = (60, 10, 12, 8, 10)
_CUM = [sum(_CUSTOMER_WEIGHTS[: i + 1]) for i in range(len(_CUSTOMER_WEIGHTS))]


def customer_number(rng: random.Random) -> str:
    """E.164 digits (no '+') of a customer: mostly US, some Jamaica, UK and Spain."""
    return _CUSTOMER_NUMBERS[bisect(_CUM, rng.random() * _CUM[-1])](rng)


def tel(digits: str) -> str:
    return f"tel:+{digits}"


def phone_forms(digits: str) -> set[str]:
    """Every clear form a number takes in the payload: `tel:+E164`, `+E164`, bare digits."""
    return {f"tel:+{digits}", f"+{digits}", digits}


def person_name(rng: random.Random) -> str:
    return f"{_pick(rng, FIRST_NAMES)} {_pick(rng, LAST_NAMES)}"


def email_for(name: str, rng: random.Random) -> str:
    local = name.lower().replace("'", "").replace(" ", _pick(rng, "._"))
    return f"{local}{int(rng.random() * 100)}@{_pick(rng, EMAIL_DOMAINS)}"


def account_number(rng: random.Random) -> str:
    return f"AC-{100 + int(rng.random() * 900)}-{1000 + int(rng.random() * 9000)}"


def pretty_us(digits: str) -> str:
    """A number as an agent types it in a note: (212) 555-0123 or +44 7700 900123."""
    if digits.startswith("1") and len(digits) == 11:
        return f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
    return f"+{digits}"
