"""The only Streamlit glue: the cached store, Filters/Settings from session state and the URL,
cached analytics calls, presentation mode and the guard that keeps tracebacks off the screen.

Pages import this module and never touch DuckDB themselves. Analytics calls are cached on
(database, data version, function, arguments, today); the data version is a digest of the
uploads ledger, so an upload or a withdrawal invalidates every cached figure at once.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import logging
import os
import re
import runpy
import secrets
import threading
import uuid
from dataclasses import fields
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics import privacy
from analytics.errors import APDataError
from analytics.settings import (REPORT_SETTINGS, Filters, Settings, academic_year_start, check_setting,
                                resolve_period)

log = logging.getLogger("ap_dashboard")
DEFAULT_DB = "data/ap.duckdb"


class NotAvailable(Exception):
    """A part of the analytics that has not been built yet."""


# ---------------------------------------------------------------------------------------------
# Analytics functions: looked up in one place, so a missing module is one neutral message.

def api(module: str, name: str):
    """analytics.<module>.<name>, or raise NotAvailable while it does not exist."""
    try:
        mod = importlib.import_module(f"analytics.{module}")
        return getattr(mod, name)
    except (ImportError, AttributeError) as e:
        log.info("analytics.%s.%s is not available: %s", module, name, e)
        raise NotAvailable(f"{module}.{name}") from None


def has(module: str, name: str) -> bool:
    try:
        api(module, name)
        return True
    except NotAvailable:
        return False


# ---------------------------------------------------------------------------------------------
# Store

def db_path() -> str:
    return os.environ.get("AP_DB") or DEFAULT_DB


@st.cache_resource(show_spinner=False)
def _open_store(path: str):
    Store = api("store", "Store")
    return Store(path)


def store():
    """The shared Store for AP_DB (one per server process). After a fatal database error (a
    full disk at commit), DuckDB refuses every call on that connection: it is opened again,
    and the file holds what it held before the failed write."""
    s = _open_store(db_path())
    if s.broken:
        with contextlib.suppress(Exception):
            s.close()
        _open_store.clear()
        s = _open_store(db_path())
    return s


def data_version() -> str:
    """A digest of the uploads ledger: changes with every upload and withdrawal."""
    return hashlib.sha256(store().ledger_version().encode()).hexdigest()[:16]


def is_empty() -> bool:
    return bool(store().is_empty())


@st.cache_data(show_spinner=False, max_entries=1000, ttl=6 * 3600)
def _cached(key: str, _fn, _args, _kwargs):
    con = store().con.cursor()
    try:
        return _fn(con, *_args, **_kwargs)
    finally:
        con.close()


def _apply(_con, fn, kwargs):
    return fn(**kwargs)


def cached(key: str, fn, kwargs: dict):
    """fn(**kwargs), cached under key (which must name everything the result depends on)."""
    return _cached(key, _apply, (fn, kwargs), {})


def call(module: str, name: str, *args, **kwargs):
    """analytics.<module>.<name>(con, *args, **kwargs), cached on the data version."""
    fn = api(module, name)
    key = repr((db_path(), data_version(), module, name, args, sorted(kwargs.items()), date.today()))
    return _cached(key, fn, args, kwargs)


def metric(module: str, name: str, **kwargs):
    """A metric function called with the page's current filters and settings."""
    return call(module, name, filters(), settings(), **kwargs)


# ---------------------------------------------------------------------------------------------
# Filters: session state is the truth; the URL mirrors it so a view can be bookmarked.

MULTI_FILTERS = {  # Filters field -> sidebar label
    "provider": "Provider",
    "commissioner": "Commissioned by",
    "school": "Home school",
    "trust": "Trust",
    "setting_type": "Setting type",
    "reason": "Reason for placement",
    "sen_status": "SEN status",
    "sex": "Sex",
    "nc_year": "Year group at placement start",
}
BOOL_FILTERS = {"cla": "Looked after (CLA)", "fsm": "Free school meals (FSM)", "out_of_area": "Placed out of area"}
BOOL_CHOICES = ("Any", "Yes", "No")
PERIOD_DEFAULT = "This academic year to date"
PERIOD_CUSTOM = "Custom dates"
SETTING_KEYS = REPORT_SETTINGS
_DEFAULT_SETTINGS = Settings()


def academic_year_label(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def period_choices(as_of: date) -> list[str]:
    first = academic_year_start(as_of).year
    return [PERIOD_DEFAULT] + [academic_year_label(y) for y in range(first, first - 7, -1)] + [PERIOD_CUSTOM]


def _parse_date(text) -> date | None:
    try:
        return date.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None


def _shown_value(raw) -> str:
    """A value from a link, as a notice may quote it: short, and never a UPN (dashboard.py shows
    notices escaped)."""
    text = privacy.mask_upns(str(raw))
    return text if len(text) <= 40 else text[:40] + "…"


def init_from_url() -> None:
    """Seed session state from the URL once per browser session (a bookmark or shared link)."""
    ss = st.session_state
    if ss.get("_url_loaded"):
        return
    ss["_url_loaded"] = True
    qp = st.query_params
    unread = []   # values in the link that could not be used: said, not silently dropped

    def date_from(param: str, key: str) -> None:
        raw = qp.get(param)
        if raw is None:
            return
        if (d := _parse_date(raw)):
            ss[key] = d
        else:
            unread.append(f"'{param}={_shown_value(raw)}' is not a date (YYYY-MM-DD)")

    date_from("as_of", "f_as_of")
    period = qp.get("period")
    if period == "custom":
        ss["f_period"] = PERIOD_CUSTOM
        date_from("from", "f_from")
        date_from("to", "f_to")
    elif period and period.isdigit() and len(period) == 4:
        ss["f_period"] = academic_year_label(int(period))
    elif period:
        unread.append(f"'period={_shown_value(period)}' is not a period (a year such as 2024, or custom)")
    known = None
    for name in MULTI_FILTERS:
        values = [v for v in qp.get_all(name) if v]
        # a UPN is never a filter's value: kept, it would show in the sidebar and the address
        for v in [v for v in values if privacy.upns_in(v)]:
            unread.append(f"'{name}={_shown_value(v)}' holds a pupil's UPN, so it was not used")
            values.remove(v)
        if values:
            ss[f"f_{name}"] = values
            if name in ("provider", "school", "trust"):   # kept (a bookmark), but said when unknown
                if known is None:
                    try:
                        known = filter_options()
                    except (NotAvailable, APDataError):
                        known = {}
                names = set(known.get(name) or [])
                if name == "provider":
                    # a provider's name as shown, in any case, is its key (a QA review's
                    # ?provider=BrightPath+Tuition showed the name and counted nothing)
                    by_label = {str(label).strip().casefold(): key
                                for key, label in (known.get("_labels", {}).get("provider") or {}).items()}
                    values = [v if v in names else by_label.get(v.strip().casefold(), v) for v in values]
                    ss[f"f_{name}"] = values
                for v in values:
                    if names and v not in names:
                        unread.append(f"'{name}={_shown_value(v)}' matches no {MULTI_FILTERS[name].lower()} in the "
                                      "loaded data, so that filter selects nothing")
    for name in BOOL_FILTERS:
        v = qp.get(name)
        if v in ("yes", "no"):
            ss[f"f_{name}"] = v.capitalize()
        elif v is not None:
            unread.append(f"'{name}={_shown_value(v)}' is not yes or no")
    ignored = []
    for name in SETTING_KEYS:
        v = qp.get(f"s_{name}")
        if v is not None:
            try:
                ss[f"s_{name}"] = check_setting(name, v)   # the Settings page's ranges
            except ValueError as e:
                ignored.append(str(e))
    notices = [f"A setting in this link was not used, so its default applies: {m}" for m in ignored]
    notices += [f"A value in this link was not used, so the default applies: {m}." if "selects nothing" not in m
                else f"A value in this link is not in the data: {m}." for m in unread]
    present = qp.get_all("present")
    if any(str(v).strip().lower() in ("yes", "true", "on", "1") for v in present):
        # only ever on (any 'yes' among them, in any case): a link cannot switch it off
        ss["_present"], ss["_present_chosen"] = True, True
    elif present:
        notices.append(f"A value in this link was not used: 'present={_shown_value(present[0])}' is not yes, so "
                       "presentation mode follows the page.")
    case = qp.get("case")
    if case:
        # a case number in any case, as the command line takes it (a QA review's c-gv0qw0b was
        # dropped without a word); never other text, and a UPN is never quoted back
        if re.fullmatch(r"C-[0-9A-Z]{4,12}", case.strip().upper()):
            ss["case"] = case.strip().upper()
        else:
            notices.append("The case in this link was not used: it is not a case number (C- and seven letters "
                           "and digits, as the Case list shows them).")
    if notices:
        ss["_url_notices"] = notices


def _url_state() -> dict[str, list[str] | str]:
    ss = st.session_state
    out: dict[str, list[str] | str] = {}
    as_of = ss.get("f_as_of")
    if as_of and as_of != ss.get("_default_as_of", date.today()):
        out["as_of"] = as_of.isoformat()
    period = ss.get("f_period", PERIOD_DEFAULT)
    if period == PERIOD_CUSTOM:
        out["period"] = "custom"
        for key, param in (("f_from", "from"), ("f_to", "to")):
            if ss.get(key):
                out[param] = ss[key].isoformat()
    elif period and period != PERIOD_DEFAULT:
        out["period"] = period[:4]
    for name in MULTI_FILTERS:
        if ss.get(f"f_{name}"):
            out[name] = [str(v) for v in ss[f"f_{name}"]]
    for name in BOOL_FILTERS:
        v = ss.get(f"f_{name}", "Any")
        if v in ("Yes", "No"):
            out[name] = v.lower()
    for name in SETTING_KEYS:
        v = ss.get(f"s_{name}")
        if v is not None and v != getattr(_DEFAULT_SETTINGS, name):
            out[f"s_{name}"] = str(v)
    if ss.get("_present"):
        # a reload, a new tab or a copied link on a shared screen stays in presentation mode
        # (a data protection review pressed F5 on the Overview and got exact small numbers)
        out["present"] = "yes"
    return out


def write_url(keep: tuple[str, ...] = ()) -> None:
    """Mirror the filters and settings in the address bar (only when something changed)."""
    wanted = _url_state()
    for k in keep:
        if k in st.query_params:
            wanted[k] = st.query_params.get(k)
    current = {k: (st.query_params.get_all(k) if len(st.query_params.get_all(k)) > 1
                   else st.query_params.get(k)) for k in st.query_params}
    norm = lambda d: {k: (sorted(v) if isinstance(v, list) else [v]) for k, v in d.items()}  # noqa: E731
    if norm(wanted) != norm(current):
        st.query_params.from_dict(wanted)


def names_care_or_sen() -> bool:
    """A list of children on a shared screen under a SEN status or looked-after filter says each
    listed child's status beside their initials (a QA review listed a provider's looked-after
    children that way): such lists are not drawn then."""
    f = filters()
    return presentation() and (bool(f.sen_status) or f.cla is not None)


CARE_OR_SEN_WITHHELD = ("Not listed in presentation mode while a SEN status or looked-after filter is on: the filter "
                        "would say each listed child's status beside their initials. Clear that filter, or switch "
                        "presentation mode off at the desk.")


def filters() -> Filters:
    """Filters from the sidebar (session state)."""
    ss = st.session_state
    as_of = ss.get("f_as_of") or date.today()
    period = ss.get("f_period", PERIOD_DEFAULT)
    start = end = None
    if period == PERIOD_CUSTOM:
        start, end = ss.get("f_from"), ss.get("f_to")
    elif period and period[:4].isdigit():
        y = int(period[:4])
        start, end = date(y, 9, 1), date(y + 1, 8, 31)
    kw = {name: tuple(str(v) for v in ss.get(f"f_{name}") or ()) for name in MULTI_FILTERS}
    for name in BOOL_FILTERS:
        v = ss.get(f"f_{name}", "Any")
        kw[name] = True if v == "Yes" else False if v == "No" else None
    return Filters(as_of=as_of, period_start=start, period_end=end, **kw)


def active_filter_count() -> int:
    f = filters()
    return (sum(bool(getattr(f, n)) for n in MULTI_FILTERS)
            + sum(getattr(f, n) is not None for n in BOOL_FILTERS))


def period():
    """The resolved period (raises PeriodError with a sentence when it is empty)."""
    return resolve_period(filters())


@st.cache_data(show_spinner=False, max_entries=100)
def _stored_settings(version: str, path: str) -> tuple[tuple, tuple]:
    s = store()
    holidays = tuple(sorted(s.holidays()))
    directions = tuple(sorted((str(k), bool(v)) for k, v in s.measure_directions().items()))
    return holidays, directions


def settings_version() -> str:
    """Changes with every saved holiday calendar or measure direction, whoever saved it: the store
    records each change (settings_changes), so every session's cache sees it at once. (A counter
    kept per session let two sessions share a key and read each other's calendar.)"""
    changes = store().settings_changes()
    if changes.empty:
        return "0"
    return f"{len(changes)}:{changes['changed_at'].max()}"


def settings() -> Settings:
    """Settings: thresholds from session state (and URL), calendar and directions from the store."""
    ss = st.session_state
    values = {}
    for name in SETTING_KEYS:
        v = ss.get(f"s_{name}")
        if v is not None:
            values[name] = v
    try:
        holidays, directions = _stored_settings(f"{data_version()}:{settings_version()}", db_path())
    except NotAvailable:
        holidays, directions = (), ()
    return Settings().with_overrides(**values, holidays=holidays, measure_directions=directions)


def threshold() -> int:
    return int(settings().suppress_below)


# ---------------------------------------------------------------------------------------------
# Presentation mode and pupil identities

def presentation() -> bool:
    return bool(st.session_state.get("_presentation_now", False))


def print_layout() -> bool:
    """The sidebar's "Layout for printing": tables drawn whole and charts at a paper's width."""
    return bool(st.session_state.get("_print", False))


def _case_key() -> bytes:
    """A per-installation secret, so a case number cannot be turned back into a UPN."""
    path = Path(db_path()).resolve().parent / "case_key"
    try:
        return path.read_bytes()
    except OSError:
        key = secrets.token_bytes(32)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # readable by its owner only: with it, case numbers can be turned back into UPNs
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key)
        except FileExistsError:   # another session made it a moment ago: theirs is the key
            with contextlib.suppress(OSError):
                return path.read_bytes()
        except OSError:
            pass
        return key


@st.cache_resource(show_spinner=False)
def _case_key_cached(path: str) -> bytes:
    return _case_key()


_CASE_RE = re.compile(r"C-[0-9A-HJKMNP-TV-Z]{7}(?![0-9A-Z])")


def case_in(text):
    """The case number at the start of a case's label ("C-DR5H9EK — T.Q."), else the text as it
    is. Streamlit's selectbox sends back the label it showed when that label has changed since
    (a switch of presentation mode, a case whose last open placement went), and that text must
    not become the case.

    >>> case_in("C-DR5H9EK — Tamsin Quarrel"), case_in("C-DR5H9EK"), case_in("nonsense")
    ('C-DR5H9EK', 'C-DR5H9EK', 'nonsense')
    """
    m = _CASE_RE.match(str(text))
    return m.group(0) if m else text


def case_number(pupil_id, key: bytes | None = None) -> str:
    """A stable case number for a pupil (never the UPN): 'C-' and 7 characters."""
    if pupil_id is None or (isinstance(pupil_id, float) and pd.isna(pupil_id)):
        return ""
    return privacy.case_number(pupil_id, key or _case_key_cached(db_path()))


def case_numbers(pupil_ids: pd.Series) -> pd.Series:
    """case_number of each, the key fetched once and each distinct ID worked out once (a list
    of 1,443 open placements spent half a second fetching the cached key per row)."""
    key = _case_key_cached(db_path())
    return pupil_ids.map({v: case_number(v, key) for v in pupil_ids.dropna().unique()}).fillna("")


PERSONAL = ("pupil_id", "first_name", "last_name", "date_of_birth", "upn")
# Columns derived from the UPN without a key: placement_id is md5(pupil_id|provider_key|start),
# and provider and start sit in the same row, so a UPN could be found by trying the few
# thousand UPNs an LA issues in a year. Never shown or downloaded; the case number (keyed) is.
DERIVED_FROM_UPN = ("placement_id",)


def initials(first, last) -> str:
    parts = [str(x).strip()[:1].upper() for x in (first, last)
             if x is not None and not (isinstance(x, float) and pd.isna(x)) and str(x).strip()]
    return ".".join(parts) + "." if parts else "—"


def year_group_on(dob, on: date) -> str | None:
    """The national curriculum year on a date from the date of birth (data-spec §5: the age on
    31 August before that academic year; 4 -> R, 5 -> 1, ... 18 -> 14), or None."""
    start = academic_year_start(on)
    age = age_on(dob, start - timedelta(days=1))
    if age is None or not 4 <= age <= 18:
        return None
    return "R" if age == 4 else str(age - 4)


def age_on(dob, on: date) -> int | None:
    if dob is None or pd.isna(dob):
        return None
    dob = pd.Timestamp(dob).date()
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def protect(df: pd.DataFrame, as_of: date | None = None) -> pd.DataFrame:
    """A pupil-level table made safe to show: a case number instead of the UPN, always; in
    presentation mode initials and age instead of names and date of birth."""
    if df is None or df.empty and not len(df.columns):
        return df
    out = df.copy()
    as_of = as_of or filters().as_of or date.today()
    front = []
    if "pupil_id" in out.columns:
        out.insert(0, "case", case_numbers(out["pupil_id"]))
        front.append("case")
    if "first_name" in out.columns or "last_name" in out.columns:
        first = out["first_name"] if "first_name" in out.columns else pd.Series(None, index=out.index)
        last = out["last_name"] if "last_name" in out.columns else pd.Series(None, index=out.index)
        if presentation():
            out.insert(len(front), "pupil", [initials(a, b) for a, b in zip(first, last)])
        else:
            out.insert(len(front), "pupil", [" ".join(str(x).strip() for x in (a, b)
                                                       if x is not None and not pd.isna(x) and str(x).strip())
                                             for a, b in zip(first, last)])
    if "date_of_birth" in out.columns:
        out.insert(min(len(out.columns), len(front) + 1), "age",
                   [age_on(d, as_of) for d in out["date_of_birth"]])
    return out.drop(columns=[c for c in PERSONAL + DERIVED_FROM_UPN if c in out.columns])


# ---------------------------------------------------------------------------------------------
# Small numbers in shared views

def shared_count(n):
    """A count as it may be shown: suppressed in presentation mode (metrics.md §7)."""
    if not presentation() or n is None:
        return n
    try:
        return api("suppression", "suppress_count")(n, threshold())
    except NotAvailable:
        return n


def shared_stat(value, n):
    """A median, mean or other figure of n records, as it may be shown: 'c' in presentation mode
    when n is small (a median of one placement is that placement's own length; metrics.md §7
    hides what is built on a small count, as suppression's stat_cols do in tables)."""
    if not presentation() or value is None or n is None:
        return value
    return "c" if shared_count(n) == "c" else value


def shared_rate(numerator, denominator, value=None):
    """A rate shown beside its denominator: in presentation mode 'c' when the numerator, the
    denominator or the rest (denominator − numerator) is small (suppression.suppress_share)."""
    if not presentation():
        return value if value is not None else (numerator / denominator if denominator else None)
    try:
        return api("suppression", "suppress_share")(numerator, denominator, threshold())
    except NotAvailable:
        return value


def shared_part(part, whole):
    """A count shown as "part of whole": in presentation mode 'c' when it or the rest is small."""
    if not presentation() or part is None:
        return part
    try:
        return api("suppression", "suppress_part")(part, whole, threshold())
    except NotAvailable:
        return part


def shared_table(df: pd.DataFrame, count_cols, rate_cols=None, force: bool = False, **kw) -> pd.DataFrame:
    """An aggregate table with small numbers as 'c' in presentation mode (or when forced, for
    aggregate downloads)."""
    if df is None or df.empty or not (presentation() or force):
        return df
    count_cols = [c for c in count_cols if c in df.columns]
    rate_cols = {r: pair for r, pair in (rate_cols or {}).items()
                 if r in df.columns and all(p in df.columns for p in pair)}
    try:
        fn = api("suppression", "suppress_table")
    except NotAvailable:
        return df
    return fn(df, count_cols, rate_cols, threshold=threshold(), **kw)


_MD_SPECIAL = "\\`*_{}[]()#+-.!|<>~$:"


# Bidirectional overrides and isolates: they can show uploaded text reversed (U+202E before a
# name shows it backwards), so they are dropped wherever uploaded text is shown.
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
# Streamlit's markdown makes links of bare addresses after parsing, so escaping does not stop
# them: a zero-width space breaks "http://" and "www." (security.md invariant 7). An email
# address may still show as a mail link: it opens nothing by itself.
_WWW = re.compile(r"(?i)\b(www)\.")


def md_escape(v) -> str:
    """Text from an upload placed where Streamlit reads markdown (alerts, labels), shown literally:
    markdown characters escaped, bare web addresses not made into links, and
    bidirectional controls dropped.

    >>> md_escape("see http://evil.example or www.evil.example").replace("\\u200b", "|")
    'see http\\\\:|//evil\\\\.example or www|\\\\.evil\\\\.example'
    """
    text = str(v).translate(BIDI_CONTROLS).replace("://", ":\u200b//")
    text = _WWW.sub("\\1\u200b.", text)
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


# ---------------------------------------------------------------------------------------------
# Guards: a sentence for the user, the traceback for the server log.

NOT_AVAILABLE_TEXT = "This part of the dashboard is not available yet: it is still being built."


@contextlib.contextmanager
def section(what: str | None = None):
    """Draw one part of a page; a failure in it is a sentence, and the rest of the page goes on."""
    try:
        yield
    except NotAvailable:
        st.info(NOT_AVAILABLE_TEXT if not what else f"{what}: not available yet (still being built).")
    except APDataError as e:
        st.error(md_escape(e))
    except Exception:  # noqa: BLE001 - never show a traceback; log it instead
        ref = uuid.uuid4().hex[:8]
        log.exception("Error drawing %s (reference %s)", what or "a section", ref)
        st.error(f"Something went wrong while drawing {what or 'this part of the page'}. "
                 f"The details were written to the server log (reference {ref}).")


# ---------------------------------------------------------------------------------------------
# Sign-in and access (security.md invariant 8): OIDC proves who someone is (st.login, the
# [auth] table of .streamlit/secrets.toml); the [access] table decides what they may open.

class AccessClosed(Exception):
    """Sign-in is configured but cannot be used: nothing may be shown."""


def access_policy():
    """The [access] rules, or None when sign-in is not configured (no secrets file, or one
    without [access]). A secrets file that cannot be read, or [access] rules that cannot be
    used, close the app instead: nothing is shown until they are fixed."""
    from analytics.access import AccessPolicy
    try:
        table = st.secrets.get("access")
    except FileNotFoundError as e:
        if getattr(e, "error_id", None) == "no-secrets-found":
            return None
        log.error("The secrets file could not be read: %s", e)
        raise AccessClosed("The dashboard's settings file (.streamlit/secrets.toml) could not be read, "
                            "so sign-in cannot be checked. The details were written to the server log.") from None
    if table is None:
        return None
    try:
        return AccessPolicy.from_mapping(table)
    except APDataError as e:
        raise AccessClosed(str(e)) from None


def _claims() -> dict:
    try:
        return dict(st.user.to_dict())
    except Exception:  # noqa: BLE001 - no user information at all: nobody is signed in
        return {}


def _only(screen, paths: list[str]) -> None:
    """Show one screen instead of the app, then stop. It is given as a hidden navigation, under
    every page's address (`paths`), so that a link to a page opens this screen rather than a
    "page not found" notice."""
    st.navigation([st.Page(screen, title="AP oversight", icon=":material/lock:", url_path=path, default=i == 0)
                   for i, path in enumerate(paths or ["home"])], position="hidden").run()
    st.stop()


def _sign_in_screen() -> None:
    st.title("AP oversight", anchor=False)
    st.write("This dashboard holds information about children. Sign in with your organisation's "
             "account to see it.")
    if st.button("Sign in", type="primary", icon=":material/login:", key="sign_in"):
        try:
            st.login()
        except Exception:  # noqa: BLE001 - a misconfigured [auth]: a sentence, details in the log
            log.exception("Sign-in could not start")
            st.error("Sign-in could not start: the sign-in settings ([auth] in .streamlit/secrets.toml) "
                     "are missing or wrong. The details were written to the server log.")


def _sign_out_button(where) -> None:
    if where.button("Sign out", icon=":material/logout:", key="sign_out"):
        st.logout()


def signed_in_groups_or_stop(policy, paths: list[str]) -> frozenset[str]:
    """The page groups the signed-in user may open; when nobody is signed in, or the account
    may open nothing, a screen that says so (and no data) at every page address in `paths`,
    and the run stops there."""
    from analytics.access import signed_in_groups
    claims = _claims()
    if not claims.get("is_logged_in"):
        _only(_sign_in_screen, paths)
    groups = signed_in_groups(policy, claims)
    who = str(claims.get("email") or claims.get("name") or "this account")
    if not groups:
        def no_access() -> None:
            st.title("AP oversight", anchor=False)
            st.warning(f"You are signed in as {md_escape(who)}, but this account has not been given "
                       "access to the dashboard. Ask the person who runs it to add you.", icon=":material/lock:")
            _sign_out_button(st)
        _only(no_access, paths)
    st.sidebar.caption(f"Signed in as {md_escape(who)}")
    _sign_out_button(st.sidebar)
    return groups


def can_open(group: str) -> bool:
    """Whether this run's user may use a group of pages ('trends', 'panel', 'data'): always
    when sign-in is off. Set by dashboard.py on every run, before any page draws."""
    groups = st.session_state.get("_access_groups")
    return groups is None or group in groups


def log_access(action: str, case: str | None = None, detail: str | None = None, cases=()) -> None:
    """Record that this session opened named records (the store's access log: who looked at a
    child's record), once per session for each thing opened: a rerun of the same page is not
    a second look. Case numbers only, never a UPN: ``case`` for one pupil's records, ``cases``
    for those a list showed. A failure to record is logged, not shown:
    it must not stop a panel meeting."""
    seen = st.session_state.setdefault("_access_logged", set())
    cases = tuple(sorted(set(cases)))
    key = (action, case, detail, hash(cases))
    if key in seen:
        return
    try:
        store().log_access(action, case, detail, user=current_user(), cases=cases)
        seen.add(key)
    except APDataError as e:
        log.warning("Could not record access (%s): %s", action, e)


def logged_download(make, what: str, case: str | None = None, cases=()):
    """``make`` (a download button's deferred data) that also records the download in the access
    log when the file is made: a file of named rows is a copy of children's records that leaves the
    product, and a data protection review found nobody could tell who had taken one. The browser
    asks for the file when the button is pressed; the callable then runs away from the page's
    script (no session), so who and where are taken now. ``what``: the file's name (any UPN in it
    hidden). A failure to record is logged, not shown, as for ``log_access``."""
    target, user = store(), current_user()
    detail = f"{mask_upns(what)}, {'presentation mode' if presentation() else 'names shown'}"
    cases = tuple(sorted({str(c) for c in cases if c is not None and not pd.isna(c)}))

    def made():
        out = make()
        try:
            target.log_access("download", case, detail, user=user, cases=cases)
        except APDataError as e:
            log.warning("Could not record a download (%s): %s", detail, e)
        return out
    return made


def current_user() -> str | None:
    """The signed-in person's email (recorded with their uploads and withdrawals), or None
    when sign-in is off."""
    claims = _claims()
    if not claims.get("is_logged_in"):
        return None
    who = claims.get("email") or claims.get("name")
    return str(who) if who else None


def access_closed_screen(message: str, paths: list[str]) -> None:
    """The sentence saying why sign-in cannot be used, and nothing else; the run stops."""
    def closed() -> None:
        st.title("AP oversight", anchor=False)
        st.error(md_escape(message))
    _only(closed, paths)


_shell = threading.local()


@contextlib.contextmanager
def shell():
    """Marks that dashboard.py (sidebar, presentation mode) is running the current page."""
    _shell.active = True
    try:
        yield
    finally:
        _shell.active = False


def run_page(body) -> None:
    """Run a page body with the guard (Streamlit's own rerun/stop signals pass through).

    AppTest's switch_page runs a page's file on its own, without dashboard.py (and so did
    Streamlit for the files of a folder named pages/, until some session had called
    st.navigation: a new server listed this package's modules as pages, which is why the folder
    is views/). A page must never draw without the shell: presentation mode and the filters live
    there. So a page started alone runs the shell, which runs the page again inside it.
    """
    if not getattr(_shell, "active", False):
        runpy.run_path(str(Path(__file__).resolve().parent.parent / "dashboard.py"), run_name="__main__")
        return
    with section("this page"):
        _changed_since(data_version())
        body()


def _poll_seconds() -> float:
    try:
        return max(1.0, float(os.environ.get("AP_CHANGE_POLL_SECONDS", "60")))
    except ValueError:
        return 60.0


@st.fragment(run_every=timedelta(seconds=_poll_seconds()))
def _changed_since(drawn_on: str) -> None:
    """A page left open says so when someone else's upload or withdrawal has changed the data
    since it was drawn: Streamlit redraws a page on the next click, not by itself, so figures on
    a screen in a meeting could be older than the store. Checked every AP_CHANGE_POLL_SECONDS
    (60) seconds; only the ledger's digest is read."""
    try:
        now = data_version()
    except Exception:  # noqa: BLE001 - a notice, never a failure of the page
        return
    if now != drawn_on:
        st.warning("**The data has changed since this page was drawn**: someone has loaded or withdrawn an "
                   "upload. The figures below are as they were.", icon=":material/update:")
        if st.button("Show the figures as they are now", key="_changed_refresh", icon=":material/refresh:"):
            st.rerun(scope="app")


def empty_state(what: str) -> bool:
    """True (after saying what to upload) when the store holds no live upload."""
    if is_empty():
        st.info(f"No data has been loaded yet. {what} "
                "Go to **Upload** (under Data) and drop in your termly spreadsheets.")
        try:
            st.page_link("views/upload.py", label="Open the Upload page", icon=":material/upload:")
        except Exception:  # page_link outside navigation (tests of a single page)
            pass
        return True
    return False


# ---------------------------------------------------------------------------------------------
# Choices for the sidebar filters, from what is loaded (and the fixed vocabularies)

def _all_time() -> Filters:
    today = date.today()
    return Filters(as_of=today, period_start=date(1900, 1, 1), period_end=today)


def filter_options() -> dict:
    """{filter name: [values]} plus '_labels': {filter name: {value: label}}."""
    from analytics import schema

    opts: dict = {
        "setting_type": list(schema.SETTING_TYPES), "reason": list(schema.REASONS),
        "commissioner": ["school", "la"], "sen_status": list(schema.SEN_STATUSES),
        "sex": list(schema.SEXES), "nc_year": ["R"] + [str(i) for i in range(1, 15)] + ["X"],
        "provider": [], "school": [], "trust": [],
        "_labels": {"sen_status": {"E": "EHC plan", "K": "SEN support", "N": "No SEN"},
                    "sex": {"M": "Male", "F": "Female", "U": "Unknown"},
                    "nc_year": {"R": "Reception", "X": "Not in a year group",
                                **{str(i): f"Year {i}" for i in range(1, 15)}}},
    }
    try:
        if is_empty():
            return opts
        wide = _all_time()
        placements = call("time_in_ap", "durations", wide, Settings())
        providers = (placements.dropna(subset=["provider_key"])
                     .drop_duplicates("provider_key", keep="last"))
        opts["provider"] = providers["provider_key"].astype(str).tolist()
        opts["_labels"]["provider"] = dict(zip(providers["provider_key"].astype(str),
                                               providers["provider"].fillna(providers["provider_key"]).astype(str)))
        schools: set[str] = set()
        trusts: set[str] = set()
        with contextlib.suppress(NotAvailable, APDataError):
            open_now = call("oversight", "flags", Filters(as_of=date.today()), Settings())
            schools |= set(open_now["home_school"].dropna().astype(str))
        with contextlib.suppress(NotAvailable, APDataError):
            schools |= set(call("exclusions", "by_group", wide, Settings(), "school")["group"].dropna().astype(str))
            trusts |= set(call("exclusions", "by_group", wide, Settings(), "trust")["group"].dropna().astype(str))
        opts["school"] = sorted(schools - {"unknown"})
        opts["trust"] = sorted(trusts - {"unknown"})
    except (NotAvailable, APDataError) as e:
        log.info("Filter choices limited: %s", e)
    return opts


@st.cache_data(show_spinner=False, max_entries=20)
def _case_index(key: str) -> dict[str, str]:
    # every pupil in the store, not only those with a placement: a child permanently excluded
    # with no placement since is on the case list and opens in the pupil view
    return {case_number(p): str(p) for p in call("oversight", "pupil_ids")}


def pupil_for_case(case: str) -> str | None:
    """The pupil behind a case number (looked up, never shown)."""
    return _case_index(f"{db_path()}:{data_version()}:{date.today()}").get(str(case).strip().upper())


# (security.md invariant 9; shared with the command line and the logs)
mask_upns = privacy.mask_upns
mask_identifiers = privacy.mask_identifiers


_WORD_RE = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


def _name_parts(names) -> set[str]:
    """Casefolded names and their parts ('Mary-Jane O'Neil' gives mary-jane, mary, jane, o'neil)."""
    out: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            continue
        for word in _WORD_RE.findall(name):
            out.add(word.casefold())
            out.update(p.casefold() for p in re.split(r"-", word) if len(p) > 1)
    return {w for w in out if len(w) > 1}


@st.cache_data(show_spinner=False, max_entries=4)
def _known_names(key: str) -> frozenset[str]:
    return frozenset(_name_parts(call("oversight", "pupil_names")))


def as_shown(text) -> str:
    """A file or sheet name, or a message quoting one, as a page shows it: UPNs hidden always
    (security.md invariant 9; a referral file is often named after the child), and in
    presentation mode the names of pupils in the store too (mask_names). Escape it for markdown
    where it goes into markdown."""
    shown = mask_upns(text)
    if shown is None or (isinstance(shown, float) and pd.isna(shown)):
        return shown
    return mask_names(shown) if presentation() else shown


def as_shown_each(values: pd.Series) -> pd.Series:
    """as_shown of each value, each distinct one worked out once (it asks the store for the
    data's version: once per cell made a list of 492 children take a second)."""
    shown = {v: as_shown(v) for v in values.dropna().unique()}
    return values.map(lambda v: shown.get(v, v) if isinstance(v, str) else v)


def free_text(text, own=()) -> str:
    """Typed text (objectives) as a page or file shows it: UPNs hidden always (invariant 9); in
    presentation mode the pupil's own names (``own``) and the store's, dates, phone numbers,
    postcodes and email addresses too."""
    if not isinstance(text, str):
        return text
    shown = mask_upns(text)
    return mask_names(mask_identifiers(shown), own) if presentation() else shown


def mask_names(text, own=()) -> str:
    """Free text (objectives) for a shared screen: the pupil's own names (``own``) hidden
    wherever they appear, in any case, and any other pupil's name in the store hidden where it
    is written with a capital (so 'will' stays but 'Will' goes). A name that is also an
    ordinary word is hidden too when capitalised: a shared screen errs on the side of hiding."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return text
    mine = _name_parts(own)
    try:
        others = _known_names(f"{db_path()}:{data_version()}")
    except (NotAvailable, APDataError):
        others = frozenset()

    def hide(m: re.Match) -> str:
        word = m.group(0)
        base = re.sub(r"['\u2019]s$", "", word)      # a possessive: Jamie's
        folded = {base.casefold()} | {p.casefold() for p in base.split("-")}
        if folded & mine or (word[0].isupper() and folded & others):
            return "[name]" + word[len(base):]
        return word
    return _WORD_RE.sub(hide, str(text))


def write_lock():
    """Serialises uploads and withdrawals from different browser sessions."""
    return _write_lock()


@st.cache_resource(show_spinner=False)
def _write_lock():
    import threading
    return threading.RLock()


def last_data_date() -> date | None:
    """The latest start or end date of any loaded placement (None when nothing is loaded)."""
    if is_empty():
        return None
    placements = call("time_in_ap", "durations", _all_time(), Settings())
    if placements.empty:
        return None
    last = max(pd.to_datetime(placements["start_date"]).max(), pd.to_datetime(placements["end_date"]).max())
    return None if pd.isna(last) else min(last.date(), date.today())


def first_data_date() -> date | None:
    """The earliest start date of any loaded placement (None when nothing is loaded)."""
    if is_empty():
        return None
    placements = call("time_in_ap", "durations", _all_time(), Settings())
    first = pd.to_datetime(placements["start_date"]).min() if len(placements) else pd.NaT
    return None if pd.isna(first) else first.date()


def first_end_date() -> date | None:
    """The earliest end date of any loaded placement (None when none has ended). Before it the
    loaded history may be incomplete: a first upload of open placements holds none that ended
    earlier, though many did."""
    if is_empty():
        return None
    placements = call("time_in_ap", "durations", _all_time(), Settings())
    first = pd.to_datetime(placements["end_date"]).min() if len(placements) else pd.NaT
    return None if pd.isna(first) else first.date()


def history_note(since: date, what: str) -> str | None:
    """A sentence when figures from ``since`` on may be undercounted because no placement in the
    loaded data ended before a later date; None when the data reach back far enough."""
    first_end = first_end_date()
    if first_end is None or first_end <= since:
        return None
    return (f"No loaded placement ended before {first_end:%d %B %Y}, so placements that ended earlier may not "
            f"have been uploaded (an export of open placements leaves them out): {what} may be undercounted. "
            "Upload earlier terms' files to complete the history.")


def empty_reason() -> str:
    """Why a figure has nothing to show, as a sentence to put after "No ...": a date before the
    data, the filters that are on, or the period."""
    try:
        p = period()
    except APDataError:
        return ""
    first = first_data_date()
    if first is not None and p.as_of < first:
        return (f"The 'as of' date ({p.as_of:%d/%m/%Y}) is before the first loaded placement starts "
                f"({first:%d/%m/%Y}): choose a later date in the sidebar.")
    n = active_filter_count()
    if n:
        return (f"{n} filter{'s are' if n > 1 else ' is'} on in the sidebar: clear "
                f"{'them' if n > 1 else 'it'} or choose others.")
    return "Choose another period or 'as of' date in the sidebar."


def default_as_of() -> date:
    """Today, unless the loaded placements all end before this academic year began: then the
    last date they cover, so a first look shows the data rather than an empty year."""
    today = date.today()
    last = last_data_date()
    if last is not None and last < academic_year_start(today):
        return last
    return today


def data_note() -> None:
    """Say which date the figures are as of when it is not today, and warn when the loaded
    placements all lie before the chosen period (its figures would be flat)."""
    if is_empty():
        return
    try:
        p = period()
    except APDataError:
        return
    last = last_data_date()
    if last is None:
        return
    if p.as_of == last and last < date.today():
        st.info(f"Figures are as of {last:%d %B %Y}, the last date in the loaded placements: nothing has been "
                "loaded for this academic year yet. Change 'Figures as of' in the sidebar to see another date, "
                "or upload this term's files.", icon=":material/event:")
    elif last < p.start:
        st.info(f"The loaded placements run to {last:%d %B %Y}, before this period starts ({p.start:%d %B %Y}): "
                "figures for the period will be empty or unchanged. Choose an earlier 'as of' date or period "
                "in the sidebar, or upload this term's files.", icon=":material/event_busy:")
