"""Typed text and file names on screen and in files: UPNs never shown, and in presentation mode
no date (of birth), phone number, postcode or email address (security.md invariant 9).

A data protection review found the UPN pattern left out the check letter U (1 UPN in 23 shown,
in a file's name and in objectives) and that "(DOB 14/03/2011) ring mum on 07700 900123" was
shown on a shared screen. Valid UPNs are made here with sample_data/upn.py (dfe-codes.md §4.1).
"""
from __future__ import annotations

import pytest

from sample_data.upn import CHECK_ALPHABET, check_letter
from views import _state as S


def _one_upn_per_check_letter() -> dict[str, str]:
    out: dict[str, str] = {}
    serial = 0
    while len(out) < len(CHECK_ALPHABET):
        body = f"99920011{serial:04d}"
        out.setdefault(check_letter(body), check_letter(body) + body)
        serial += 1
    return out


UPNS = _one_upn_per_check_letter()


@pytest.fixture()
def names(monkeypatch):
    monkeypatch.setattr(S, "_known_names", lambda key: frozenset({"jordan", "quillfeather"}))
    monkeypatch.setattr(S, "data_version", lambda: "v")


@pytest.mark.parametrize("letter", sorted(UPNS))
def test_every_valid_upn_is_hidden_whatever_its_check_letter(letter):
    upn = UPNS[letter]
    for text in (f"Referral Jordan {upn}.csv", f"UPN {upn}, moved", f"smith_{upn.lower()}.xlsx"):
        shown = S.mask_upns(text)
        assert upn[1:] not in shown and "[UPN hidden]" in shown, shown


@pytest.mark.parametrize("typed", ["U999 2001 15025", "U999200 115025", "U999-2001-1502-5", "u999200115025",
                                   "X99920011502A",    # a temporary UPN ends in a letter
                                   "S999200115025",    # no check letter S: a mistyped UPN, still hidden
                                   # a QA review's forms: two spaces, other separators, a thin space,
                                   # a full-width letter
                                   "A999  200115025", "A999_200115025", "A999.2001.1502.5", "A999/2001/1502/5",
                                   "A999\u20132001\u20131502\u20135", "A\u2009999200115025", "\uff21999200115025"])
def test_upns_written_in_groups_or_mistyped_are_hidden_too(typed):
    assert S.mask_upns(f"ID {typed} here") == "ID [UPN hidden] here"


@pytest.mark.parametrize("text, shown", [
    ("Referral Q999900000017v2.csv", "Referral [UPN hidden]v2.csv"),   # joined to other text
    ("smithA999200115025.csv", "smith[UPN hidden].csv"),
    ("2025A999200115025", "2025[UPN hidden]"),
])
def test_a_upn_joined_to_other_text_is_hidden(text, shown):
    assert S.mask_upns(text) == shown


@pytest.mark.parametrize("text", ["Year 10 pupil, 25 hours, KS2 maths", "Room 101 at 10:30", "Call ext 2040"])
def test_text_that_is_no_upn_stays(text):
    assert S.mask_upns(text) == text


TYPED = ("Jordan (DOB 14/03/2011, UPN U999200115025) to attend from 2 September 2025; ring mum on "
         "07700 900123 or +44 20 7946 0018; lives at 12 Elm Road, FE1 2AB; jordan.q@example.org")


def test_at_the_desk_typed_text_hides_only_upns(names, monkeypatch):
    monkeypatch.setattr(S, "presentation", lambda: False)
    assert S.free_text(TYPED) == TYPED.replace("U999200115025", "[UPN hidden]")


def test_in_a_meeting_typed_text_hides_dates_phones_postcodes_and_emails(names, monkeypatch):
    monkeypatch.setattr(S, "presentation", lambda: True)
    assert S.free_text(TYPED, own=["Jordan", "Quillfeather"]) == (
        "[name] (DOB [date hidden], UPN [UPN hidden]) to attend from [date hidden]; ring mum on "
        "[phone hidden] or [phone hidden]; lives at 12 Elm Road, [postcode hidden]; [email hidden]")


@pytest.mark.parametrize("typed, shown", [
    ("Born 2011-03-14", "Born [date hidden]"),
    ("born 14.3.11", "born [date hidden]"),
    ("b. March 14th, 2011", "b. [date hidden]"),
    ("DOB 14th Mar 2011", "DOB [date hidden]"),
    ("tel 01632 960 983", "tel [phone hidden]"),
    # a QA review's forms
    ("Call mum on (01632) 960001", "Call mum on [phone hidden]"),
    ("born 14th of March 2011", "born [date hidden]"),
    ("born March 2011", "born [date hidden]"),
    ("lives at sw1a 1aa", "lives at [postcode hidden]"),
    ("Y10 3rd week, 25 hours a week, KS2 5 sessions", "Y10 3rd week, 25 hours a week, KS2 5 sessions"),
])
def test_in_a_meeting_each_form_is_hidden_and_ordinary_numbers_stay(names, monkeypatch, typed, shown):
    monkeypatch.setattr(S, "presentation", lambda: True)
    assert S.free_text(typed) == shown
