"""Personal identifiers in text the product writes out (security.md invariant 9: UPNs are never
shown anywhere by default; a meeting view shows no date of birth).

Used by the pages (views/_state.py), the command line and the logs. A referral file is often
named after the child, and objectives are typed by hand, so any text that came in with the data
is passed through these before it is shown.

>>> mask_upns("Referral U999200115025.csv")
'Referral [UPN hidden].csv'
>>> mask_identifiers("DOB 14/03/2011, ring 07700 900123")
'DOB [date hidden], ring [phone hidden]'
"""
from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

# Any letter, 11 digits and a digit or letter, however they are run together or split up:
# joined to other text ('smithA999...', 'A999...v2.csv'), or with up to two spaces, dots,
# underscores, slashes or dashes between them ('C999 0000 00001', as ingest accepts;
# 'A999.2001.1502.5'). Any letter, not only DfE's check letters: the pattern once left out U
# (1 UPN in 23 shown, a data protection review), and a mistyped UPN is personal data too. It
# errs on the side of hiding: a letter then eleven digits is hidden whatever it is.
_SEP = r"[\s._/\-\u2010-\u2015\u00a0\u2009\u202f]{0,2}"
# The letter is split from the digits only when it stands alone ('A 999...'), and a closing
# letter (a temporary UPN's) follows the digits directly: 'ring mum on 07700 900123 or' is a
# phone number, not the letter n, eleven digits and the letter o.
_LETTER = "[A-Z\uff21-\uff3a\uff41-\uff5a]"
_UPN_RE = re.compile(rf"(?:(?<![A-Z]){_LETTER}{_SEP}|{_LETTER})(?:\d{_SEP}){{10}}\d(?:{_SEP}\d|[A-Z])",
                     re.IGNORECASE)

_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# Free text on a shared screen: dates (a date of birth typed into objectives), phone numbers,
# postcodes and email addresses (a review read "(DOB 14/03/2011) ring mum on 07700 900123").
_IDENTIFIERS = [(re.compile(p, flags), what) for p, flags, what in (
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE, "[email hidden]"),
    (r"(?<!\d)\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}(?!\d)", 0, "[date hidden]"),
    (rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}\.?,?\s+\d{{2,4}}\b", re.IGNORECASE, "[date hidden]"),
    (rf"\b{_MONTHS}\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?\d{{4}}\b", re.IGNORECASE, "[date hidden]"),
    (r"(?<![\w+])\(?(?:\+44\s?\(?0?\)?\s?|0)\d(?:[\s\-()]{0,2}\d){8,9}(?!\d)", 0, "[phone hidden]"),
    # in capitals, as postcodes are written; in lower case only with a two-letter area
    # ('sw1a 1aa'), since 'y10 3rd' is a year group
    (r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", 0, "[postcode hidden]"),
    (r"\b[a-z]{2}\d[a-z\d]?\s*\d[abd-hjlnp-uw-z]{2}\b", re.IGNORECASE, "[postcode hidden]"),
)]


def _blank(text) -> bool:
    return text is None or (isinstance(text, float) and text != text)


def mask_upns(text):
    """Text with anything shaped like a UPN hidden (None and NaN as they are)."""
    return text if _blank(text) else _UPN_RE.sub("[UPN hidden]", str(text))


def mask_identifiers(text):
    """Dates, phone numbers, postcodes and email addresses in free text hidden."""
    if _blank(text):
        return text
    out = str(text)
    for pattern, what in _IDENTIFIERS:
        out = pattern.sub(what, out)
    return out


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def upns_in(text) -> set[str]:
    """Every UPN-shaped run in text (as ``mask_upns`` finds them), written as a stored pupil ID
    is: separators dropped, upper case.

    >>> sorted(upns_in('{"UPN": "a999 2001 15025", "note": "was Q999200115017v2"}'))
    ['A999200115025', 'Q999200115017']
    """
    if _blank(text):
        return set()
    return {re.sub(r"[^0-9A-Z]", "", m.group(0).upper()) for m in _UPN_RE.finditer(str(text))}


def case_number(pupil_id, key: bytes) -> str:
    """A stable case number for a pupil (never the UPN): 'C-' and 7 characters, keyed by the
    installation's secret (case_key beside the database), so it cannot be turned back into a
    UPN without the key.

    >>> c = case_number("A999200115025", b"k" * 32)
    >>> len(c), c[:2], c == case_number("A999200115025", b"k" * 32), c == case_number("A999200115025", b"j" * 32)
    (9, 'C-', True, False)
    """
    digest = hmac.new(key, str(pupil_id).encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:5], "big") >> 5  # 35 bits
    return "C-" + "".join(_CROCKFORD[(n >> (5 * i)) & 31] for i in range(6, -1, -1))


def read_case_key(db_path: str | Path) -> bytes | None:
    """The installation's case-number secret beside the database, or None when there is none."""
    try:
        return (Path(db_path).resolve().parent / "case_key").read_bytes()
    except OSError:
        return None
