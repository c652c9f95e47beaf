"""The phone number a citizen gives: a mainland mobile (11 digits, 1[3-9]...) or a fixed line
(area code 0xx / 0xxx and 7 or 8 digits), written with or without spaces, dashes, brackets or
the country code +86, in ASCII or full-width digits. :func:`normalize` gives the digits the
ticket keeps (as the phone channel keeps the caller's number) or None; :func:`same_phone`
compares two numbers as written by different people (a ticket filed from a call, a number
typed on the page)."""

from __future__ import annotations

import re
import unicodedata

MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
FIXED = re.compile(r"^0[1-9][0-9]{1,2}[2-9][0-9]{6,7}$")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def _digits(text: str) -> str:
    # full-width digits and dashes (a Chinese input method's) as ASCII
    raw = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).strip())
    for prefix in ("+86", "0086"):
        if raw.startswith(prefix):
            return raw[len(prefix) :]
    if raw.startswith("86") and len(raw) == 13:  # 86 13800138000
        return raw[2:]
    if len(raw) == 12 and raw.startswith("01") and MOBILE.match(raw[1:]):
        return raw[1:]  # a mobile dialled as long distance (a trunk's caller id: 013800138000)
    return raw


def normalize(text: str) -> str | None:
    """The number's digits if it is a mainland mobile or fixed line, else None."""
    digits = _digits(text)
    if not (digits.isascii() and digits.isdigit()):
        return None
    if len(digits) == 11 and MOBILE.match(digits):
        return digits
    if 10 <= len(digits) <= 12 and FIXED.match(digits):
        return digits
    return None


def same_phone(stored: str, given: str) -> bool:
    """Whether ``given`` (typed by the citizen) is the number ``stored`` on a ticket."""
    a, b = _digits(stored), _digits(given)
    return bool(a) and a == b
