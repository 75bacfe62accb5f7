"""Uploaded text on screen is text (security.md invariant 7): no links planted, nothing reversed."""
from __future__ import annotations

import pandas as pd

from views import _state as S
from views import _ui as U


def test_bare_addresses_in_uploaded_text_are_not_made_links():
    # A reviewer: a provider named "[click here](http://evil.example)" was escaped, but Streamlit
    # still made a live link of the bare address in the change preview (its markdown links
    # addresses after parsing, so escaping alone does not stop it).
    shown = S.md_escape("[click here](http://evil.example) www.evil.example help@evil.example")
    assert "http\\:\u200b//evil\\.example" in shown
    assert "www\u200b\\.evil" in shown
    assert "://" not in shown.replace("\\", "") and "www." not in shown.replace("\\", "")
    # the words read the same once the invisible breaks and escapes are taken out
    assert shown.replace("\u200b", "").replace("\\", "") == (
        "[click here](http://evil.example) www.evil.example help@evil.example")


def test_bidirectional_overrides_are_dropped_from_shown_text():
    # A reviewer: a name with U+202E (right-to-left override) showed reversed in the case list
    # and its file.
    assert S.md_escape("\u202eRTL override Lovell") == "RTL override Lovell"
    table = U.readable(pd.DataFrame({"provider": ["Oak \u2067PRU\u2069", "Elm"], "n": [1, 2]}))
    assert table.iloc[:, 0].tolist() == ["Oak PRU", "Elm"]
