"""Normalisation of contact data for search and duplicate detection (pure, no ORM)."""

import re
import unicodedata

_NON_DIGITS = re.compile(r"\D+")
_NAME_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
# Legal-form words that do not tell two companies apart.
_COMPANY_SUFFIXES = (
    "有限责任公司",
    "股份有限公司",
    "有限公司",
    "集团",
    "公司",
    "co",
    "ltd",
    "limited",
    "inc",
    "llc",
    "corp",
    "corporation",
    "gmbh",
    "company",
)


def digits_only(text: str) -> str:
    return _NON_DIGITS.sub("", text or "")


def normalize_phone(phone: str) -> str:
    """Digits of a phone number without the China country code: '+86 138-0013-8000' → '13800138000'."""
    digits = digits_only(phone)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def search_key(text: str) -> str:
    """Case- and width-insensitive form of text for substring search: 'ＡＣＭＥ Ltd' → 'acme ltd'."""
    return unicodedata.normalize("NFKC", text or "").casefold().strip()


def search_text(*parts: str) -> str:
    """The text a record is found by: its searchable fields, each as a search key, one per line."""
    return "\n".join(key for key in map(search_key, parts) if key)


def normalize_name(name: str) -> str:
    """Case-, width- and punctuation-insensitive name key, legal-form words removed."""
    key = unicodedata.normalize("NFKC", name or "").casefold()
    key = _NAME_NOISE.sub(" ", key).strip()
    words = key.split()
    while words and words[-1] in _COMPANY_SUFFIXES:
        words.pop()
    key = "".join(words)
    for suffix in _COMPANY_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) and not suffix.isascii():
            key = key[: -len(suffix)]
            break
    return key
