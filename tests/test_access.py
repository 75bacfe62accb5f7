"""Sign-in and access (security.md invariant 8): with [access] configured, nothing is shown
before sign-in, and each account opens only the groups of pages the rules give it."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from analytics.access import AccessConfigError, AccessPolicy, signed_in_groups
from tests.test_app import ROOT, assert_healthy, page_text

RULES = {"trends": ["@council.gov.uk"], "panel": ["Chair@Council.gov.uk"], "data": ["data.team@council.gov.uk"]}


# -- the rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("email, groups", [
    ("chair@council.gov.uk", {"trends", "panel"}),          # by name (any case) and by domain
    ("CHAIR@council.GOV.uk", {"trends", "panel"}),
    ("data.team@council.gov.uk", {"trends", "data"}),
    ("someone@council.gov.uk", {"trends"}),
    ("someone@sub.council.gov.uk", set()),                   # a domain means that domain only
    ("someone@council.gov.uk.evil.example", set()),
    ("council.gov.uk", set()),
    ("", set()),
    (None, set()),
])
def test_who_opens_what(email, groups):
    assert AccessPolicy.from_mapping(RULES).groups_for(email) == groups


def test_an_unverified_email_opens_nothing():
    policy = AccessPolicy.from_mapping(RULES)
    assert signed_in_groups(policy, {"email": "chair@council.gov.uk", "email_verified": False}) == frozenset()
    assert signed_in_groups(policy, {"email": "chair@council.gov.uk", "email_verified": True}) == {"trends", "panel"}
    assert signed_in_groups(policy, {"email": "chair@council.gov.uk"}) == {"trends", "panel"}
    assert signed_in_groups(policy, {"name": "No Email"}) == frozenset()


@pytest.mark.parametrize("table, words", [
    ({}, "empty"),
    ({"admins": ["a@b.org"]}, "unknown group: admins"),
    ({"trends": "@council.gov.uk"}, "must be a list"),
    ({"trends": ["*"]}, "'*' is neither"),
    ({"panel": ["chair"]}, "'chair' is neither"),
])
def test_rules_that_cannot_be_used_are_refused_with_a_sentence(table, words):
    with pytest.raises(AccessConfigError, match=words):
        AccessPolicy.from_mapping(table)


# -- the gate in the app ----------------------------------------------------------------------

def app(db, monkeypatch, user: dict | None, access=RULES, page: str | None = None) -> AppTest:
    monkeypatch.setenv("AP_DB", str(db))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180)
    if access is not None:
        at.secrets["access"] = access
    if user is not None:
        at.user = user
    if page:   # opened as the first page of the session, as by typing its address
        at.switch_page(page)
    at.run()
    return at


def signed_in(email: str) -> dict:
    return {"is_logged_in": True, "email": email, "email_verified": True, "name": "Test User"}


def shows_no_data(at: AppTest) -> None:
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")
    assert not at.sidebar.date_input, "no filters (they read the data) before sign-in"


def test_signed_out_sees_only_a_sign_in_button(sample_db, monkeypatch):
    for page in (None, "views/case_list.py", "views/pupil_view.py", "views/upload.py"):
        at = app(sample_db, monkeypatch, {"is_logged_in": False}, page=page)
        assert_healthy(at)
        assert [b.label for b in at.button] == ["Sign in"], page
        shows_no_data(at)


def test_sign_in_without_its_settings_is_a_sentence_not_a_traceback(sample_db, monkeypatch):
    # [access] set but no [auth] (the identity provider's settings): Sign in cannot start
    at = app(sample_db, monkeypatch, {"is_logged_in": False})
    at.button(key="sign_in").click().run()
    assert_healthy(at)
    assert any("Sign-in could not start" in e.value for e in at.error), [e.value for e in at.error]
    shows_no_data(at)


def test_an_account_without_access_is_told_so_and_sees_nothing(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, signed_in("someone@elsewhere.org"))
    assert_healthy(at)
    # (alerts are markdown: the email is escaped, so compare without the backslashes)
    assert any("has not been given access" in w.value and "someone@elsewhere.org" in w.value.replace("\\", "")
               for w in at.warning)
    assert [b.label for b in at.button] == ["Sign out"]
    shows_no_data(at)


def test_a_trends_account_opens_the_trend_pages_but_not_the_panel_or_data(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, signed_in("analyst@council.gov.uk"))
    assert_healthy(at)
    assert at.title[0].value == "Overview" and at.metric
    assert any("Signed in as analyst@council.gov.uk" in c.value.replace("\\", "") for c in at.sidebar.caption)
    at.switch_page("views/providers.py").run()
    assert_healthy(at)
    assert at.title[0].value == "Providers"
    # The navigation holds the six trend pages only: AppTest cannot even switch to the others.
    for page in ("views/case_list.py", "views/pupil_view.py", "views/upload.py", "views/settings.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    # Opened as the first page of a session (as a typed address would be), a panel or data
    # page still shows nothing of its own.
    for page in ("views/case_list.py", "views/pupil_view.py", "views/upload.py"):
        monkeypatch.setenv("AP_DB", str(sample_db))
        direct = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180)
        direct.secrets["access"] = RULES
        direct.user = signed_in("analyst@council.gov.uk")
        direct.switch_page(page).run()
        assert_healthy(direct)
        titles = [t.value for t in direct.title]
        assert not {"Case list", "Pupil view", "Upload"} & set(titles), (page, titles)
        assert "Open placements needing attention" not in page_text(direct)
        assert "Drop this term" not in page_text(direct)


def test_a_panel_account_opens_the_case_list(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, signed_in("chair@council.gov.uk"), page="views/case_list.py")
    assert_healthy(at)
    assert at.title[0].value == "Case list"
    assert at.dataframe, "the case list is shown"


def test_broken_rules_close_the_app(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, signed_in("chair@council.gov.uk"), access={"admins": ["chair@council.gov.uk"]})
    assert_healthy(at)
    assert any("unknown group: admins" in e.value.replace("\\", "") for e in at.error)
    shows_no_data(at)
    assert not at.button


def test_without_access_rules_the_app_is_open_and_says_so(sample_db, monkeypatch):
    at = app(sample_db, monkeypatch, None, access=None)
    assert_healthy(at)
    assert at.metric
    assert any("Sign-in is off" in c.value for c in at.sidebar.caption)


def test_uploads_and_withdrawals_record_who_did_them(tmp_path, monkeypatch):
    from tests.conftest import write_synthetic_files

    placements = write_synthetic_files(tmp_path / "files", n=4)[0]
    at = app(tmp_path / "ap.duckdb", monkeypatch, signed_in("data.team@council.gov.uk"), page="views/upload.py")
    assert_healthy(at)
    at.file_uploader[0].set_value((placements.name, placements.read_bytes(), "text/csv")).run()
    at.button(key="load_files").click().run()
    assert_healthy(at)
    history = next(df.value for df in at.dataframe if "Uploaded (UTC)" in df.value.columns)
    assert list(history["By"]) == ["data.team@council.gov.uk"]
    at.button(key="withdraw_start").click().run()
    at.button(key="withdraw_yes").click().run()
    assert_healthy(at)
    history = next(df.value for df in at.dataframe if "Uploaded (UTC)" in df.value.columns)
    assert list(history["Withdrawn by"]) == ["data.team@council.gov.uk"]
    assert list(history["Status"]) == ["withdrawn"]


def test_a_change_to_a_saved_setting_is_listed_with_who_made_it(sample_db, tmp_path, monkeypatch):
    import shutil
    db = tmp_path / "ap.duckdb"   # a copy: the shared sample store keeps its settings
    for suffix in ("", ".wal"):
        if (src := sample_db.with_name(sample_db.name + suffix)).exists():
            shutil.copy(src, db.with_name(db.name + suffix))
    at = app(db, monkeypatch, signed_in("data.team@council.gov.uk"), page="views/settings.py")
    assert_healthy(at)
    assert any("No saved setting" in c.value for c in at.caption)
    radio = next(r for r in at.radio if (r.key or "").startswith("dir_"))
    measure = radio.key.removeprefix("dir_")
    radio.set_value("Lower is better").run()
    assert_healthy(at)
    log = next(df.value for df in at.dataframe if "Change" in df.value.columns)
    assert list(log["By"]) == ["data.team@council.gov.uk"]
    assert list(log["Setting"]) == ["measure direction"]
    assert list(log["Change"]) == [f"{measure}: lower is better"]


def test_only_the_data_group_can_change_school_rolls(sample_db, monkeypatch):
    # The rolls are a saved setting, edited on the Exclusions page (a trends page): a trends
    # account sees the rates but no editor; a data account gets the editor.
    trends = app(sample_db, monkeypatch, signed_in("analyst@council.gov.uk"), page="views/exclusions.py")
    assert_healthy(trends)
    assert trends.title[0].value == "Exclusions"
    assert not [df for df in trends.dataframe if df.key == "rolls_editor"]
    assert any("the data team can change them" in c.value for c in trends.caption)
    data = app(sample_db, monkeypatch, signed_in("data.team@council.gov.uk"), page="views/exclusions.py")
    assert_healthy(data)
    assert [df for df in data.dataframe if df.key == "rolls_editor"]
    # and a trends account is not pointed at the Case list it cannot open
    tia = app(sample_db, monkeypatch, signed_in("analyst@council.gov.uk"), page="views/time_in_ap.py")
    assert not any("Case list" in c.value for c in tia.caption)
    chair = app(sample_db, monkeypatch, signed_in("chair@council.gov.uk"), page="views/time_in_ap.py")
    assert any("Case list" in c.value for c in chair.caption)
