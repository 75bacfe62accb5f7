"""AP oversight dashboard: page config, the shared sidebar filters, presentation mode and
navigation. Each page lives in views/; all Streamlit glue is in views/_state.py.

    AP_DB=data/ap.duckdb streamlit run dashboard.py
"""
from __future__ import annotations

import contextlib
import logging
from datetime import date, datetime, timezone

import streamlit as st

from views import _state as S
from views import _ui as U

if not logging.getLogger("ap_dashboard").handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("ap_dashboard").addHandler(_handler)
    logging.getLogger("ap_dashboard").setLevel(logging.INFO)

st.set_page_config(page_title="AP oversight", page_icon=":material/school:", layout="wide",
                   # open on a desktop, closed on a phone (at 320px an open sidebar covers the page)
                   initial_sidebar_state="auto")

PAGES = {
    "Overview and trends": [
        st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("views/time_in_ap.py", title="Time in AP", icon=":material/timelapse:"),
        st.Page("views/outcomes.py", title="Outcomes", icon=":material/output:"),
        st.Page("views/progress.py", title="Progress", icon=":material/trending_up:"),
        st.Page("views/exclusions.py", title="Exclusions", icon=":material/block:"),
        st.Page("views/providers.py", title="Providers", icon=":material/domain:"),
    ],
    "Panel": [
        st.Page("views/case_list.py", title="Case list", icon=":material/assignment_late:"),
        st.Page("views/pupil_view.py", title="Pupil view", icon=":material/person:"),
    ],
    "Data": [
        st.Page("views/upload.py", title="Upload", icon=":material/upload:"),
        st.Page("views/settings.py", title="Settings", icon=":material/tune:"),
    ],
}
PANEL_PAGES = {p.url_path for p in PAGES["Panel"]}
PAGES_WITHOUT_FILTERS = {p.url_path for p in PAGES["Data"]}
GROUP_OF_SECTION = {"Overview and trends": "trends", "Panel": "panel", "Data": "data"}

# The sign-in gate comes before anything that reads data: with [access] configured, nobody
# signed out (or signed in without access) gets past this point, and each signed-in person
# gets only the groups of pages the rules give them, on every run of every page.
PATHS = [p.url_path or "overview" for pages in PAGES.values() for p in pages]
try:
    policy = S.access_policy()
except S.AccessClosed as e:
    S.access_closed_screen(str(e), PATHS)   # stops the run
st.session_state["_access_groups"] = None   # sign-in off: every group
if policy is not None:
    allowed = S.signed_in_groups_or_stop(policy, PATHS)
    st.session_state["_access_groups"] = frozenset(allowed)
    PAGES = {title: pages for title, pages in PAGES.items() if GROUP_OF_SECTION[title] in allowed}
else:
    st.sidebar.caption("Sign-in is off: anyone who can open this address sees everything here. "
                       "The README says how to turn it on.")

page = st.navigation(PAGES)
# each page its own browser title (WCAG 2.4.2), as a tab or a screen reader names it
st.set_page_config(page_title=f"{page.title} · AP oversight")
if page.url_path not in {p.url_path for pages in PAGES.values() for p in pages}:
    st.stop()   # never a page outside the user's groups, whatever Streamlit falls back to
S.init_from_url()
ss = st.session_state
for notice in ss.pop("_url_notices", []):
    st.warning(S.md_escape(notice), icon=":material/link_off:")


def _presentation_switch(section: str) -> bool:
    """One switch for the whole session. Until someone uses it, it follows the page: on for the
    Panel pages, off elsewhere (and once on, it stays on). Once used, the choice holds on every
    page: a chair who switched it on on the Overview must not find names on the Case list."""
    if "_present" not in ss:
        ss["_present"] = section == "panel"
    elif section == "panel" and not ss.get("_present_chosen"):
        ss["_present"] = True
    widget = "present_toggle"

    def _keep() -> None:
        ss["_present"], ss["_present_chosen"] = ss[widget], True

    ss[widget] = ss["_present"]   # the widget shows the session's value, whichever page set it
    st.sidebar.toggle("Presentation mode", key=widget, on_change=_keep,
                      help="For showing on a shared screen: hides names, UPNs and dates of birth "
                           "(initials, case numbers and ages instead) and shows small numbers as 'c', "
                           "on every page until it is switched off. It protects each screen, not a "
                           "comparison of two: the figures for looked-after children and for those "
                           "without an EHC plan, side by side, can give away the one with a plan. "
                           "Choose the groups to show before the meeting.")
    return bool(ss["_present"])


def _print_switch() -> bool:
    """"Layout for printing": tables whole and charts at a paper's width (views/_ui.py). Kept
    outside the widget, which Streamlit forgets when a case is opened by st.switch_page."""
    ss.setdefault("_print", False)

    def _keep() -> None:
        ss["_print"] = ss["print_toggle"]

    ss["print_toggle"] = ss["_print"]
    st.sidebar.toggle("Layout for printing", key="print_toggle", on_change=_keep,
                      help="Tables show every row and column, and charts fit the page. Then print from the "
                           "browser (Ctrl+P); landscape suits the wider tables. The sidebar and buttons are "
                           "left off the paper.")
    return bool(ss["_print"])


# Paper: the browser's print leaves off the sidebar, the page's own controls and the notes in
# expanders, and lets tables wrap. Constant CSS of this program's own (no uploaded text).
PRINT_CSS = """<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
  [data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"],
  [data-testid="stButton"], [data-testid="stDownloadButton"], [data-testid="stSelectbox"],
  [data-testid="stMultiSelect"], [data-testid="stDateInput"], [data-testid="stRadio"],
  [data-testid="stCheckbox"], [data-testid="stTextArea"], [data-testid="stExpander"],
  [data-testid="stElementToolbar"], [data-testid="stButtonGroup"], [data-testid="stFileUploader"],
  .modebar-container, [class*="st-key-noprint"] { display: none !important; }
  [data-testid="stMainBlockContainer"] { padding: 0 !important; max-width: none !important; }
  [data-testid="stTable"], [data-testid="stTable"] > div { overflow: visible !important; max-height: none !important; }
  [data-testid="stTable"] table { display: table !important; font-size: 9pt; width: 100%; }
  [data-testid="stTable"] th, [data-testid="stTable"] td { white-space: normal !important; overflow-wrap: anywhere; }
  [data-testid="stPlotlyChart"], [data-testid="stMetric"], [data-testid="stAlert"] { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
}
</style>"""
# The case list is wide (sixteen columns): landscape; the rest portrait, which the charts fit.
PAGE_SIZE = {"case_list": "<style>@page { size: A4 landscape; margin: 10mm; }</style>"}
PAGE_SIZE_DEFAULT = "<style>@page { size: A4 portrait; margin: 10mm; }</style>"


def _print_heading(title: str, named: bool) -> None:
    """On the page in the layout for printing, so on the paper: what the figures are as of and
    chosen by, when it was printed and, for named pupils, how it must be handled."""
    from analytics.errors import APDataError
    try:
        p = S.period()
        when = f"Figures as of {p.as_of:%d %B %Y}; period {p.start:%d/%m/%Y} to {p.end:%d/%m/%Y}"
    except APDataError:   # an empty period: the page itself says why
        when = f"Figures as of {S.filters().as_of:%d %B %Y}"
    on = U.filters_described()   # values may come from the data (provider names): escaped
    chosen = "; ".join(f"{label}: {S.md_escape(S.as_shown(values))}" for label, values in on) if on else "none"
    st.markdown(f"**AP oversight · {title}**  \n{when}. Filters: {chosen}. Presentation mode "
                f"{'on: no names, UPNs or dates of birth' if S.presentation() else 'off'}. "
                f"Printed {datetime.now(timezone.utc):%d/%m/%Y %H:%M} UTC.")
    if named:
        st.markdown("**OFFICIAL-SENSITIVE: personal data about children.** Keep this paper secure and "
                    "destroy it after the meeting.")
    with st.container(key="noprint_hint"):
        st.caption("Layout for printing is on: print from the browser (Ctrl+P). The sidebar, buttons and "
                   "notes are left off the paper.")


def _clear_filters() -> None:
    for name in S.MULTI_FILTERS:
        ss[f"f_{name}"] = []
    for name in S.BOOL_FILTERS:
        ss[f"f_{name}"] = "Any"
    ss["f_period"] = S.PERIOD_DEFAULT
    ss["f_as_of"] = ss.get("_default_as_of") or S.default_as_of()


# data-spec.md: a placement's year group is the pupil's in the academic year it started; the
# case list and pupil view show the year group on the 'as of' date, beside the age on it
FILTER_HELP = {"nc_year": "The pupil's year group in the academic year the placement started (data-spec). "
                          "The case list and pupil view show the year group on the 'as of' date."}
FILTER_KEYS = (["f_as_of", "f_period", "f_from", "f_to"] + [f"f_{n}" for n in S.MULTI_FILTERS]
               + [f"f_{n}" for n in S.BOOL_FILTERS])


def _sidebar_filters() -> None:
    sb = st.sidebar
    sb.header("Filters")
    # Streamlit drops a widget's value when a run is cut short by st.switch_page (opening a
    # case from the Case list): the 'as of' date went back to its default and the filters went
    # with it. A copy kept outside the widgets puts them back.
    for k, v in ss.get("_filters_kept", {}).items():
        if k not in ss:
            ss[k] = v
    version = S.data_version()
    if "f_as_of" not in ss:
        ss["_default_as_of"] = ss["f_as_of"] = S.default_as_of()
        ss["_default_as_of_data"] = version
    elif ss.get("_default_as_of_data") != version:
        # An upload or withdrawal since the default was worked out: a date the user has not
        # changed follows the data (a first upload of last year's files shows them, not an
        # empty year); a date they chose stays.
        default = S.default_as_of()
        if ss["f_as_of"] == ss.get("_default_as_of"):
            ss["f_as_of"] = default
        ss["_default_as_of"], ss["_default_as_of_data"] = default, version
    sb.date_input("Figures as of", key="f_as_of", format="DD/MM/YYYY",
                  help="The date the figures describe. Nothing dated after it is used.")
    choices = S.period_choices(ss["f_as_of"])
    if ss.get("f_period") not in choices:
        ss["f_period"] = S.PERIOD_DEFAULT
    sb.selectbox("Period", choices, key="f_period",
                 help="The reporting window: an academic year (1 September to 31 August), or from "
                      "1 September to the 'as of' date, or dates you choose. It never runs past 'as of'.")
    so_far = (ss["f_as_of"] - S.academic_year_start(ss["f_as_of"])).days + 1
    if ss["f_period"] == S.PERIOD_DEFAULT and so_far < 28:
        # early in the autumn term the year so far holds almost nothing ended or excluded
        sb.caption(f"The academic year began on 1 September, so this period is only {U.n_of(so_far, 'day')} "
                   "long: choose last academic year above for a full year's figures.")
    if ss["f_period"] == S.PERIOD_CUSTOM:
        if "f_from" not in ss:
            ss["f_from"] = date(ss["f_as_of"].year - (ss["f_as_of"].month < 9), 9, 1)
        if "f_to" not in ss:
            ss["f_to"] = ss["f_as_of"]
        c1, c2 = sb.columns(2)
        c1.date_input("From", key="f_from", format="DD/MM/YYYY")
        c2.date_input("To", key="f_to", format="DD/MM/YYYY")

    options = S.filter_options()
    labels = options.get("_labels", {})
    n_active = S.active_filter_count()
    with sb.expander(f"Placements and pupils ({n_active} filter{'s' if n_active != 1 else ''} on)",
                     expanded=n_active > 0):
        for name, label in S.MULTI_FILTERS.items():
            key = f"f_{name}"
            current = [str(v) for v in ss.get(key) or []]
            opts = sorted(set(options.get(name, [])) | set(current), key=lambda v: labels.get(name, {}).get(v, v))
            ss[key] = current
            names = labels.get(name, {})
            # Schools and trusts are only known from the data loaded so far: others can be typed.
            free = name in ("school", "trust")
            st.multiselect(label, opts, key=key, placeholder="All (or type a name)" if free else "All",
                           accept_new_options=free, help=FILTER_HELP.get(name),
                           format_func=lambda v, names=names: names.get(v, U.value_label(v)))
        for name, label in S.BOOL_FILTERS.items():
            key = f"f_{name}"
            if ss.get(key) not in S.BOOL_CHOICES:
                ss[key] = "Any"
            st.radio(label, S.BOOL_CHOICES, key=key, horizontal=True)
        st.button("Clear filters", on_click=_clear_filters, icon=":material/filter_alt_off:")
    ss["_filters_kept"] = {k: ss[k] for k in FILTER_KEYS if k in ss}


try:
    S.store()
except Exception as e:  # noqa: BLE001 - said once, in words, instead of by every part of the page
    from analytics.errors import APDataError
    if not isinstance(e, APDataError):
        logging.getLogger("ap_dashboard").exception("Error opening the database")
    st.error((str(e) if isinstance(e, APDataError) else "The database could not be opened.")
             + " Nothing can be shown until it opens: ask whoever runs the dashboard.",
             icon=":material/database:")
    st.stop()

try:
    section = "panel" if page.url_path in PANEL_PAGES else "other"
    ss["_presentation_now"] = _presentation_switch(section)
    _print_switch()
    # Drawn on every page so that they keep their values (Streamlit forgets a widget's value
    # on a run that does not draw it).
    if page.url_path in PAGES_WITHOUT_FILTERS:
        st.sidebar.caption("The filters below apply to the Overview and trend pages and the Panel pages.")
    _sidebar_filters()
    S.write_url(keep=("case",) if page.url_path == "pupil_view" else ())
except Exception as e:  # noqa: BLE001 - a sentence on screen, the traceback in the log
    from analytics.errors import APDataError
    if isinstance(e, APDataError):
        st.error(str(e))
    else:
        logging.getLogger("ap_dashboard").exception("Error drawing the sidebar")
        st.error("The filters could not be drawn. The details were written to the server log.")

st.html(PRINT_CSS + PAGE_SIZE.get(page.url_path, PAGE_SIZE_DEFAULT))
if policy is None and (page.url_path in PANEL_PAGES or page.url_path == "upload"):
    # named records, open to anyone who can reach the address: said where they are, not only
    # in the sidebar's small print (a data protection review: hidden when the sidebar is closed)
    st.warning("**Sign-in is off:** anyone who can open this address can see the named records on this page. "
               "Turn sign-in on before real children's data is loaded (the README's \"Sign-in and access\").",
               icon=":material/lock_open:")
if ss.get("_presentation_now"):
    st.warning("Presentation mode is on: names, UPNs and dates of birth are hidden; small numbers shown as c",
               icon=":material/visibility_off:")
if ss.get("_print"):
    _print_heading(page.title, named=page.url_path in PANEL_PAGES and not ss.get("_presentation_now"))

if page.url_path not in PAGES_WITHOUT_FILTERS:
    with S.section("the data check"):
        S.data_note()

# A wait of more than half a second shows a spinner (Streamlit's delay), so a page that takes a
# while never sits there with nothing said; the Data pages show their own progress instead.
with (st.spinner("Working out the figures…") if page.url_path not in PAGES_WITHOUT_FILTERS
      else contextlib.nullcontext()), S.shell():
    page.run()
