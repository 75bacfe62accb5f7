"""Sign-in end to end in a real browser: `streamlit run` with [auth] pointing at a mock OpenID
Connect provider (oidc-provider-mock, in this process) and [access] rules. Signed out, the
app shows only a sign-in button; the provider's form signs a person in; the app then shows
what [access] gives them, records nothing they may not see, and signs them out again."""
from __future__ import annotations

from urllib.parse import quote

import httpx
import oidc_provider_mock
import pytest

from tests.test_browser import ARTIFACTS, _free_port, idle, page, streamlit_server  # noqa: F401 - page is a fixture

pytestmark = pytest.mark.browser

ACCESS = '''
[access]
trends = ["@council.gov.uk"]
panel = ["chair@council.gov.uk"]
'''


@pytest.fixture()
def provider():
    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture()
def signed_server(tmp_path, provider, sample_db):
    """The app on the sample data, with sign-in through the mock provider."""
    port = _free_port()   # chosen here: the provider's redirect address names it
    secrets = tmp_path / "secrets.toml"
    url = f"http://localhost:{port}"
    secrets.write_text(f'''
[auth]
redirect_uri = "{url}/oauth2callback"
cookie_secret = "a-test-cookie-secret-that-is-long-enough"
client_id = "ap-dashboard-test"
client_secret = "not-a-secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"
{ACCESS}''')
    with streamlit_server(tmp_path, {"AP_DB": str(sample_db)}, ("--secrets.files", str(secrets)),
                          host="localhost", port=port, log_name="browser-sign-in-server.log") as served:
        yield served


def sign_in(pg, app_url: str, email: str) -> None:
    pg.goto(app_url)
    idle(pg)
    pg.get_by_role("button", name="Sign in").click()
    pg.wait_for_selector('input[name="sub"]')          # the provider's own form
    pg.fill('input[name="sub"]', email)
    pg.get_by_role("button", name="Authorize").click()
    pg.wait_for_url(f"{app_url}/**")
    idle(pg)


def test_sign_in_shows_each_person_only_their_pages(signed_server, provider, page):  # noqa: F811
    pg = page
    for email, name in (("analyst@council.gov.uk", "Ann Analyst"), ("someone@elsewhere.org", "Out Sider")):
        r = httpx.put(f"{provider}/users/{quote(email)}",
                      json={"email": email, "email_verified": True, "name": name})
        assert r.status_code == 204

    # Signed out: a sign-in button and nothing else, on the home page and on a panel page's address.
    for path in ("", "/case_list"):
        pg.goto(signed_server + path)
        idle(pg)
        assert pg.get_by_role("button", name="Sign in").is_visible()
        body = pg.inner_text("body")
        assert "Open placements" not in body and "Pupils in AP" not in body
        assert pg.locator('[data-testid="stSidebarNav"]').count() == 0
        assert "Page not found" not in body   # a link to a page opens the sign-in screen
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "20-signed-out.png"), full_page=True)

    # A trends account: the overview, its name in the sidebar, no Panel or Data pages.
    sign_in(pg, signed_server, "analyst@council.gov.uk")
    pg.wait_for_selector("text=Signed in as analyst@council.gov.uk")
    assert pg.locator("h1", has_text="Overview").count() == 1
    nav = pg.inner_text('[data-testid="stSidebarNav"]')
    assert "Time in AP" in nav and "Case list" not in nav and "Upload" not in nav
    pg.screenshot(path=str(ARTIFACTS / "21-signed-in-trends.png"), full_page=True)
    pg.goto(signed_server + "/case_list")   # typed address of a page outside the account's groups
    idle(pg)
    assert pg.locator("h1", has_text="Case list").count() == 0
    assert "Open placements needing attention" not in pg.inner_text("body")

    # Signing out returns to the sign-in button.
    pg.goto(signed_server)
    idle(pg)
    pg.get_by_role("button", name="Sign out").click()
    pg.get_by_role("button", name="End session").click()   # the provider's own confirmation
    pg.wait_for_url(f"{signed_server}/**")
    idle(pg)
    pg.goto(signed_server)
    idle(pg)
    assert pg.get_by_role("button", name="Sign in").is_visible()
    assert "Signed in as" not in pg.inner_text("body")

    # An account in no group: told so, shown nothing.
    sign_in(pg, signed_server, "someone@elsewhere.org")
    pg.wait_for_selector("text=has not been given access")
    assert "someone@elsewhere.org" in pg.inner_text("body")
    assert pg.locator('[data-testid="stSidebarNav"]').count() == 0
    pg.screenshot(path=str(ARTIFACTS / "22-signed-in-no-access.png"), full_page=True)
