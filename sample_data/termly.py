"""Write the world as the termly files an LA really receives (see sample_data/README.md).

Each export shows the state at the end of its term: a placement appears in every term it was
open in, with its end date and destination only once it has ended (so the spring file repeats
autumn's open placements, now with end dates). The files deliberately differ in shape: CSV and
multi-sheet workbooks, header synonyms, date styles, codes versus labels, title rows, "Total"
rows, Windows-1252, semicolon and tab delimiters, the three attendance shapes, and a few rows
that must be rejected. Output is byte-for-byte reproducible.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .school_calendar import BASELINE_TERM, TERMS, Term
from .world import LA_NAME, Assessment, Attendance, Exclusion, Placement, World

# --- Value styles ----------------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DATE_STYLES: dict[str, Callable[[date], object]] = {
    "iso": lambda d: d.isoformat(),
    "dmy": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    "dmy_short": lambda d: f"{d.day}/{d.month}/{d.year % 100:02d}",
    "dmy_dash": lambda d: f"{d.day:02d}-{d.month:02d}-{d.year}",
    "dmy_dot": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "d_mon_yyyy": lambda d: f"{d.day} {_MONTHS[d.month - 1]} {d.year}",
    "d_mon_yy": lambda d: f"{d.day:02d}-{_MONTHS[d.month - 1]}-{d.year % 100:02d}",
    "cell": lambda d: d,                                   # a real Excel date cell
    "serial": lambda d: (d - date(1899, 12, 30)).days,     # an Excel serial number
}
BOOL_STYLES = {"yn": ("Y", "N"), "yesno": ("Yes", "No"), "truefalse": ("True", "False"),
               "10": ("1", "0"), "cell": (True, False)}

SETTING_CODE = {"state_ap_school": "PRU", "independent_school": "Independent school",
                "special_school": "Special school", "fe_college": "NFE",
                "one_to_one_tuition": "OOT", "online": "Online", "work_based": "WBP",
                "hospital": "Hospital", "other_unregistered": "OTH"}
SETTING_LABEL = {"state_ap_school": "Pupil referral unit", "independent_school": "Independent school",
                 "special_school": "Special school", "fe_college": "FE college",
                 "one_to_one_tuition": "One on one tuition", "online": "Online",
                 "work_based": "Work based placement", "hospital": "Hospital",
                 "other_unregistered": "Other unregistered provider"}
REASON_LABEL = {
    "permanent_exclusion": "Permanent exclusion (where still going through the review process)",
    "suspension": "Suspension", "behaviour_support": "Off-site placement for behavioural support",
    "medical_physical": "Medical condition (physical health need)",
    "medical_mental_health": "Medical condition (mental health need)",
    "awaiting_school_place": "Awaiting school place",
    "awaiting_specialist_place": "Awaiting specialist placement", "other": "Other"}
REASON_SHORT = {"permanent_exclusion": "PEX", "suspension": "Suspension",
                "behaviour_support": "Behaviour", "medical_physical": "Medical",
                "medical_mental_health": "Mental health", "awaiting_school_place": "In-year admission",
                "awaiting_specialist_place": "Awaiting special school", "other": "Other"}
DESTINATION_LABELS = {  # several labels each; rows take turns
    "mainstream": ("Returned to home school", "Other mainstream school", "Reintegrated"),
    "special": ("Special school", "Specialist provision"), "other_ap": ("Another AP", "Transferred"),
    "post16": ("College", "Post-16", "Apprenticeship", "FE"), "neet": ("NEET",),
    "ehe": ("Elective home education", "EHE"), "moved_away": ("Moved out of area", "Left LA"),
    "other": ("Other",), "unknown": ("Not known", "Unknown")}
SEN_LABEL = {"E": "EHC plan", "K": "SEN support", "N": "No SEN"}
SEN_SHORT = {"E": "EHCP", "K": "SEN support", "N": "No SEN"}
SEX_LABEL = {"M": "Male", "F": "Female", "U": "U"}
ETHNICITY_LABEL = {
    "WBRI": "White - White British", "WOTH": "White - Any other White background",
    "WIRT": "White - Traveller of Irish heritage", "WROM": "White - Gypsy/Roma",
    "MWBC": "Mixed - White and Black Caribbean", "MWBA": "Mixed - White and Black African",
    "MWAS": "Mixed - White and Asian", "MOTH": "Mixed - Any other Mixed background",
    "AIND": "Asian - Indian", "APKN": "Asian - Pakistani", "ABAN": "Asian - Bangladeshi",
    "AOTH": "Asian - Any other Asian background", "BCRB": "Black - Black Caribbean",
    "BAFR": "Black - Black African", "BOTH": "Black - Any other Black background",
    "CHNE": "Chinese", "OOTH": "Any other ethnic group", "REFU": "Refused",
    "NOBT": "Information not yet obtained"}
EXCLUSION_CODE = {"suspension": "FIXD", "permanent": "PERM", "lunchtime": "LNCH"}
EXCLUSION_LABEL = {"suspension": "Suspension", "permanent": "Permanent exclusion",
                   "lunchtime": "Lunchtime exclusion"}
EXCLUSION_OLD_LABEL = {"suspension": "Fixed period exclusion", "permanent": "Permanent",
                       "lunchtime": "Lunchtime"}
EXCLUSION_REASON_LABEL = {
    "PP": "Physical assault against a pupil", "PA": "Physical assault against an adult",
    "VP": "Verbal abuse or threatening behaviour against a pupil",
    "VA": "Verbal abuse or threatening behaviour against an adult",
    "OW": "Use or threat of use of an offensive weapon or prohibited item", "BU": "Bullying",
    "RA": "Racist abuse", "LG": "Abuse against sexual orientation and gender identity",
    "DS": "Abuse relating to disability", "SM": "Sexual misconduct", "DA": "Drug and alcohol related",
    "DM": "Damage to property", "TH": "Theft",
    "MT": "Inappropriate use of social media or online technology",
    "DB": "Persistent or general disruptive behaviour"}


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# --- Canonical rows as at an export --------------------------------------------------------


def placement_as_at(p: Placement, export: date) -> dict:
    """The placement as the export made on `export` shows it."""
    ended = p.end_date is not None and p.end_date <= export
    reviews = [d for d in p.review_dates if d <= export]
    return {
        "pupil_id": p.pupil.upn, "first_name": p.pupil.first_name, "last_name": p.pupil.last_name,
        "date_of_birth": p.pupil.date_of_birth, "sex": p.pupil.sex, "ethnicity": p.pupil.ethnicity,
        "sen_status": p.pupil.sen_status, "cla": p.pupil.cla, "fsm": p.pupil.fsm,
        "nc_year": p.nc_year, "home_school": p.pupil.school.name,
        "home_school_urn": p.pupil.school.urn, "trust": p.pupil.school.trust,
        "provider": p.provider.name, "provider_urn": p.provider.urn,
        "provider_ukprn": p.provider.ukprn, "setting_type": p.provider.setting_type,
        "type_label": p.provider.type_label,
        "registered": True if (p.provider.urn or p.provider.ukprn) else
        (False if p.provider.setting_type in ("one_to_one_tuition", "online", "work_based",
                                              "other_unregistered") else None),
        "commissioner": p.commissioner, "reason": p.reason, "start_date": p.start_date,
        "planned_end_date": p.planned_end_as_at(export), "end_date": p.end_date if ended else None,
        "hours_per_week": p.hours_per_week, "sessions_per_week": p.sessions_per_week,
        "objectives": p.objectives, "last_review_date": reviews[-1] if reviews else None,
        "destination": p.destination if ended else None, "out_of_area": p.provider.out_of_area,
        "cost_per_week": p.cost_per_week,
    }


def placements_in_term(world: World, term: Term) -> list[dict]:
    rows = [placement_as_at(p, term.end) for p in world.placements
            if p.start_date <= term.end and (p.end_date is None or p.end_date >= term.start)]
    return sorted(rows, key=lambda r: (r["provider"], r["start_date"], r["pupil_id"]))


def _term_index(d: date) -> int:
    """Index in TERMS of the export that carries a record dated d (earlier records go in the first)."""
    for i, term in enumerate(TERMS):
        if d <= term.end:
            return i
    return len(TERMS) - 1


def by_term(records: list, when: Callable) -> list[list]:
    out: list[list] = [[] for _ in TERMS]
    for r in records:
        out[_term_index(when(r))].append(r)
    return out


# --- Column specs ----------------------------------------------------------------------------


@dataclass
class Style:
    dates: str = "iso"
    bools: str = "yn"
    codes: str = "canonical"   # canonical | code | label | short
    ethnicity: str = "code"    # code | label
    money: str = "plain"       # plain | pounds
    xlsx: bool = False

    def date(self, d):
        return "" if d is None else DATE_STYLES[self.dates](d)

    def bool(self, b):
        return "" if b is None else BOOL_STYLES[self.bools][0 if b else 1]


def _vocab(style: Style, column: str, value, row: dict, i: int):
    if value is None:
        return ""
    c = style.codes
    if column == "setting_type":
        if c == "canonical":
            return value
        if value == "unknown" or row.get("type_label") and c == "label":
            return row["type_label"]
        return (SETTING_CODE if c in ("code", "short") else SETTING_LABEL)[value]
    if column == "reason":
        return value if c == "canonical" else (REASON_SHORT if c in ("code", "short") else REASON_LABEL)[value]
    if column == "destination":
        if c == "canonical":
            return value
        labels = DESTINATION_LABELS[value]
        return labels[i % len(labels)]
    if column == "commissioner":
        if c == "canonical":
            return value
        school, la = {"code": ("School", "LA"), "label": ("School", "Local Authority"),
                      "short": ("School", "Council")}[c]
        return school if value == "school" else la
    if column == "sen_status":
        return value if c in ("canonical", "code") else (SEN_LABEL if c == "label" else SEN_SHORT)[value]
    if column == "sex":
        return value if c in ("canonical", "code") else SEX_LABEL[value]
    if column == "ethnicity":
        return value if style.ethnicity == "code" else ETHNICITY_LABEL[value]
    raise KeyError(column)


_DATE_COLS = {"date_of_birth", "start_date", "planned_end_date", "end_date", "last_review_date",
              "period_start", "period_end", "date"}
_BOOL_COLS = {"cla", "fsm", "registered", "out_of_area", "higher_is_better"}
_VOCAB_COLS = {"setting_type", "reason", "destination", "commissioner", "sen_status", "sex", "ethnicity"}


def cell(style: Style, column: str, row: dict, i: int):
    value = row.get(column)
    if column in _DATE_COLS:
        return style.date(value)
    if column in _BOOL_COLS:
        return style.bool(value)
    if column in _VOCAB_COLS:
        return _vocab(style, column, value, row, i)
    if value is None:
        return ""
    if column == "cost_per_week" and style.money == "pounds":
        return f"£{value:,.2f}"
    if isinstance(value, float):
        return value if style.xlsx else _num(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if style.xlsx else str(value)
    return value


def table(columns: list[tuple[str, str]], rows: list[dict], style: Style) -> tuple[list[str], list[list]]:
    headers = [h for h, _ in columns]
    return headers, [[cell(style, c, r, i) for _, c in columns] for i, r in enumerate(rows)]


# --- Writers ---------------------------------------------------------------------------------


def write_csv(path: Path, headers: list[str], rows: list[list], *, encoding: str = "utf-8",
              delimiter: str = ",", title: list[str] = (), total: list | None = None) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for line in title:
        w.writerow([line])
    if title:
        w.writerow([])
    w.writerow(headers)
    w.writerows(rows)
    if total is not None:
        w.writerow(total)
    path.write_bytes(buf.getvalue().encode(encoding))


@dataclass
class Sheet:
    name: str
    headers: list[str] | None
    rows: list[list]
    title: list[str] = ()
    total: list | None = None
    date_format: str = "dd/mm/yyyy"


_FIXED_TIME = (2025, 7, 31, 12, 0, 0)


def write_xlsx(path: Path, sheets: list[Sheet]) -> None:
    wb = openpyxl.Workbook(write_only=True)
    fixed = datetime(*_FIXED_TIME)
    wb.properties.creator = LA_NAME + " (synthetic)"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    bold = Font(bold=True)
    for sh in sheets:
        ws = wb.create_sheet(sh.name)
        sample = ([sh.headers] if sh.headers else []) + sh.rows[:60]
        for j in range(max((len(r) for r in sample), default=0)):
            width = max(len(str(r[j])) if j < len(r) and r[j] is not None else 0 for r in sample)
            ws.column_dimensions[get_column_letter(j + 1)].width = min(max(10, width + 2), 45)

        def styled(value, font=None, number_format=None):
            c = WriteOnlyCell(ws, value=value)
            if font is not None:
                c.font = font
            if number_format is not None:
                c.number_format = number_format
            return c

        for line in sh.title:
            ws.append([styled(line, bold)])
        if sh.title:
            ws.append([])
        if sh.headers:
            ws.append([styled(h, bold) for h in sh.headers])
        for r in sh.rows:
            ws.append([styled(v, number_format=sh.date_format) if isinstance(v, date) else v for v in r])
        if sh.total is not None:
            ws.append(sh.total)
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_reproducible_zip(buf.getvalue()))


def _reproducible_zip(data: bytes) -> bytes:
    """Same content, same bytes: fixed timestamps in the zip entries and the document properties."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*",
                                 rb"\g<1>2025-07-31T12:00:00Z", content)
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, content)
    return out.getvalue()


# --- The files -------------------------------------------------------------------------------

PLACEMENT_CANONICAL = ["pupil_id", "first_name", "last_name", "date_of_birth", "sex", "ethnicity",
                       "sen_status", "cla", "fsm", "nc_year", "home_school", "home_school_urn",
                       "trust", "provider", "provider_urn", "provider_ukprn", "setting_type",
                       "commissioner", "reason", "start_date", "planned_end_date", "end_date",
                       "hours_per_week", "objectives", "last_review_date", "destination",
                       "out_of_area", "cost_per_week"]


def _cols(headers: str, canon: list[str] | str) -> list[tuple[str, str]]:
    hs = [h.strip() for h in headers.split("|")]
    cs = canon.split() if isinstance(canon, str) else canon
    assert len(hs) == len(cs), (hs, cs)
    return list(zip(hs, cs))


P_SPRING = _cols("UPN|Forename|Surname|DOB|Gender|Ethnic Group|SEN Status|LAC|FSM Eligible|Year Group|"
                 "Home School|School URN|MAT|AP Provider|Provider URN|UKPRN|AP Type|Commissioned By|"
                 "Placement Reason|Placement Start|Planned End|Actual End Date|Hours per Week|"
                 "Success Criteria|Last Review|Outcome|Out of Area|Weekly Cost", PLACEMENT_CANONICAL)
P_SUMMER_1252 = _cols("Pupil Ref|First Name|Last Name|Birth Date|Sex|Ethnicity Code|SEN Provision|In Care|"
                      "Free School Meals|NC Year|School|Home School URN|Academy Trust|Provider Name|AP URN|"
                      "Provider UKPRN|Setting Type|Commissioner|Primary Reason|Start|Planned End Date|"
                      "Leaving Date|Weekly Hours|Targets|Review Date|Destination on Leaving|Out of County|"
                      "Weekly Fee", PLACEMENT_CANONICAL)
P_WORKBOOK_23 = _cols(
    "Pupil UPN|Legal Forename|Legal Surname|Date of Birth|Gender|Ethnicity|SEND|Looked After|FSM Eligible|"
    "Base School|School URN|Trust Name|Provision|URN of AP|UKPRN|Type of Provision|Arranged By|"
    "Reason for Placement|Start Date of Placement|Expected End Date|Date Ended|Sessions per Week|"
    "Placement Objectives|Date of Last Review|Exit Destination|OOA|Cost per Week",
    "pupil_id first_name last_name date_of_birth sex ethnicity sen_status cla fsm home_school "
    "home_school_urn trust provider provider_urn provider_ukprn setting_type commissioner reason "
    "start_date planned_end_date end_date sessions_per_week objectives last_review_date destination "
    "out_of_area cost_per_week")
P_SPRING_24 = _cols("UPN|Forename|Surname|DOB|Sex|Ethnicity|SEN|CLA|FSM Eligible|Year|School|School URN|"
                    "Trust|Setting|Provider URN|UKPRN|Setting Type|Commissioned By|Reason|Placement Start|"
                    "Planned End Date|End Date|Hours|Objectives|Last Review Date|Destination|Out of Area|"
                    "Cost per Week", PLACEMENT_CANONICAL)
P_SUMMER_24 = _cols(
    "Unique Pupil Number|Forename|Surname|DOB|Gender|Ethnic Group|SEN Status|Child in Care|"
    "Free School Meals|NC Year|Referring School|School URN|Academy Trust|Placement Provider|Provider URN|"
    "Provider UKPRN|Provision Type|Registered Provider|Funded By|Reason for Placement|Date Started|"
    "Intended End Date|End|Timetabled Hours|Outcomes Sought|Date of Last Review|Next Step|Out of Area|"
    "Weekly Cost",
    "pupil_id first_name last_name date_of_birth sex ethnicity sen_status cla fsm nc_year home_school "
    "home_school_urn trust provider provider_urn provider_ukprn setting_type registered commissioner "
    "reason start_date planned_end_date end_date hours_per_week objectives last_review_date "
    "destination out_of_area cost_per_week")
P_AUTUMN_25 = _cols("Pupil ID|Forename|Surname|DOB|Gender|Ethnicity Code|SEN|In Care|FSM Eligible|"
                    "Year Group|Home School|Home School URN|MAT|AP Provider|AP URN|UKPRN|AP Type|"
                    "Commissioned By|Primary Reason|Entry Date|Planned End|Date Ended|Weekly Hours|"
                    "Success Criteria|Last Review|Destination on Leaving|OOA|Weekly Cost",
                    PLACEMENT_CANONICAL)
P_SPRING_25 = _cols(
    "UPN|Forename|Surname|DOB|Gender|Ethnic Group|SEN Status|LAC|FSM Eligible|Year Group|School|School URN|"
    "MAT|AP Provider|Provider URN|UKPRN|AP Type|Commissioned By|Placement Reason|Placement Start|"
    "Planned End|Actual End Date|Hours per Week|Sessions per Week|Success Criteria|Last Review|Outcome|"
    "Out of Area|Weekly Cost",
    PLACEMENT_CANONICAL[:22] + ["hours_per_week", "sessions_per_week"] + PLACEMENT_CANONICAL[23:])
P_SUMMER_25 = _cols(
    "Pupil UPN|Forename|Surname|Date of Birth|Gender|Ethnicity|SEN Status|Looked After|FSM Eligible|"
    "NC Year|Home School|School URN|Trust Name|Provider Name|Provider URN|Provider UKPRN|"
    "Type of Provision|Commissioned By|Placement Reason|Placement Start|Planned End Date|"
    "Actual End Date|Hours per Week|Placement Objectives|Last Review|Outcome|Out of Area|Cost per Week",
    PLACEMENT_CANONICAL)

EXCLUSION_CANONICAL = "pupil_id category start_date sessions reason school school_urn trust"


def exclusion_row(e: Exclusion) -> dict:
    return {"pupil_id": e.pupil.upn, "category": e.category, "start_date": e.start_date,
            "sessions": e.sessions, "reason": e.reason, "school": e.school.name,
            "school_urn": e.school.urn, "trust": e.school.trust}


def attendance_row(a: Attendance) -> dict:
    return {"pupil_id": a.pupil.upn, "period_start": a.period_start, "period_end": a.period_end,
            "possible_sessions": a.possible, "attended_sessions": a.attended, "setting": a.setting,
            "pct": f"{100 * a.attended / a.possible:.1f}"}


def assessment_row(a: Assessment) -> dict:
    return {"pupil_id": a.pupil.upn, "measure": a.measure, "date": a.date, "value": a.value,
            "higher_is_better": a.higher_is_better}


def _excl_table(rows: list[Exclusion], headers: str, style: Style, category: dict | None,
                reason: dict | None = None, days: bool = False):
    out = []
    for e in rows:
        r = exclusion_row(e)
        out.append([
            r["pupil_id"], category[e.category] if category else e.category, style.date(e.start_date),
            ("" if e.sessions is None else (e.sessions / 2 if style.xlsx else _num(e.sessions / 2)))
            if days else ("" if e.sessions is None else (e.sessions if style.xlsx else _num(e.sessions))),
            reason.get(e.reason, e.reason) if reason else e.reason, r["school"], r["school_urn"],
            r["trust"] or ""])
    return [h.strip() for h in headers.split("|")], out


def _att_table(rows: list[Attendance], headers: str, style: Style, shape: str):
    """shape: 'summary' (week start, [week end], possible, attended) or 'pct'."""
    out = []
    for a in rows:
        r = attendance_row(a)
        if shape == "summary_end":
            out.append([r["pupil_id"], style.date(a.period_start), style.date(a.period_end),
                        a.possible, a.attended, a.setting])
        elif shape == "summary":
            out.append([r["pupil_id"], style.date(a.period_start), a.possible, a.attended, a.setting])
        else:
            out.append([r["pupil_id"], style.date(a.period_start), a.possible,
                        float(r["pct"]) if style.xlsx else r["pct"], a.setting])
    if not style.xlsx:
        out = [[str(v) for v in row] for row in out]
    return [h.strip() for h in headers.split("|")], out


def _ass_table(rows: list[Assessment], headers: str, style: Style, with_direction: bool,
               rename: dict | None = None):
    out = []
    for a in rows:
        value = a.value if style.xlsx else _num(a.value)
        row = [a.pupil.upn, (rename or {}).get(a.measure, a.measure), style.date(a.date), value]
        if with_direction:
            row.append(style.bool(a.higher_is_better))
        out.append(row)
    return [h.strip() for h in headers.split("|")], out


def _readme(lines: list[str]) -> Sheet:
    return Sheet("Read me", None, [[line] for line in lines])


def write_termly(world: World, out: Path) -> list[dict]:
    """Write every termly file into `out`; returns a manifest (file, datasets, notes)."""
    out.mkdir(parents=True, exist_ok=True)
    manifest: list[dict] = []
    terms = TERMS
    pl = [placements_in_term(world, t) for t in terms]
    ex = by_term(world.exclusions, lambda e: e.start_date)
    marked = [a for a in world.attendance if a.marks]
    summary = [a for a in world.attendance if not a.marks]
    at_base = [a for a in summary if a.period_start < terms[0].start]
    at = by_term([a for a in summary if a.period_start >= terms[0].start], lambda a: a.period_start)
    asm = by_term(world.assessments, lambda a: a.date)
    pupils = {p.upn: p for p in world.pupils}

    def note(name, datasets, text):
        manifest.append({"file": name, "datasets": datasets, "notes": text})

    def title(term: Term, what: str) -> list[str]:
        return [f"{LA_NAME}: {what}, {term.title}", f"Exported {term.end.strftime('%d/%m/%Y')} "
                "(synthetic data: invented pupils, schools and providers)"]

    # 2021/22 summer: the baseline attendance before the first termly exports.
    h, rows = _att_table(at_base, "UPN|Week Commencing|Week Ending|Possible|Attended|School",
                         Style("iso"), "summary_end")
    write_csv(out / f"{BASELINE_TERM.label}_attendance.csv", h, rows)
    note(f"{BASELINE_TERM.label}_attendance.csv", "attendance",
         "Baseline weeks before 2022/23; ISO dates, week start and end")

    # ---- 2022/23 autumn
    t = terms[0]
    style = Style("iso", "yn", "canonical", "code")
    h, rows = table([(c, c) for c in PLACEMENT_CANONICAL], pl[0], style)
    write_csv(out / f"{t.label}_placements.csv", h, rows, encoding="utf-8-sig")
    note(f"{t.label}_placements.csv", "placements", "Canonical column names, ISO dates, UTF-8 with BOM")
    st = Style("dmy")
    h, rows = _att_table(at[0], "Pupil ID|Week Beginning|Possible Sessions|Sessions Attended|Setting",
                         st, "summary")
    write_csv(out / f"{t.label}_attendance.csv", h, rows, encoding="utf-8-sig")
    note(f"{t.label}_attendance.csv", "attendance", "Summary rows, dd/mm/yyyy, UTF-8 with BOM")
    h, rows = _excl_table(ex[0], "UPN|Exclusion Type|Start Date|Sessions|Reason 1|School|School URN|MAT",
                          Style("iso"), EXCLUSION_CODE)
    write_csv(out / f"{t.label}_exclusions.csv", h, rows)
    note(f"{t.label}_exclusions.csv", "exclusions", "Census codes FIXD/PERM/LNCH, reason codes, ISO dates")
    h, rows = _ass_table(asm[0], "UPN|Assessment|Assessment Date|Score|Higher is Better", Style("iso"), True)
    write_csv(out / f"{t.label}_assessments.csv", h, rows)
    note(f"{t.label}_assessments.csv", "assessments",
         "Includes baselines taken before September 2022; Higher is Better Y/N")

    # ---- 2022/23 spring
    t = terms[1]
    style = Style("cell", "yesno", "label", "label", xlsx=True)
    h, rows = table(P_SPRING, pl[1], style)
    write_xlsx(out / f"{t.label}_placements.xlsx",
               [Sheet("AP placements", h, rows, title(t, "alternative provision placements"),
                      total=["Total", f"{len(rows)} placements"])])
    note(f"{t.label}_placements.xlsx", "placements",
         "One sheet; two title rows and a blank row above the header; Excel date cells; labels "
         "(Male/Female, EHC plan, Yes/No, DfE placement-reason labels); a Total row at the bottom")
    st = Style("cell", xlsx=True)
    h, rows = _att_table(at[1], "UPN|Week Commencing|Possible Sessions|Attendance %|Provider", st, "pct")
    write_xlsx(out / f"{t.label}_attendance.xlsx",
               [Sheet("Attendance", h, rows, title(t, "weekly attendance"))])
    note(f"{t.label}_attendance.xlsx", "attendance",
         "Percentage shape (Attendance % with Possible Sessions); title rows; Excel date cells")
    h, rows = _excl_table(ex[1], "Pupil ID|Category|Date of Exclusion|Length (days)|Exclusion Reason|"
                          "School Name|School URN|Academy Trust", Style("dmy"), EXCLUSION_LABEL,
                          EXCLUSION_REASON_LABEL, days=True)
    write_csv(out / f"{t.label}_exclusions.csv", h, rows)
    note(f"{t.label}_exclusions.csv", "exclusions",
         "Labels for category and reason; length in days (x 2 = sessions); dd/mm/yyyy")
    h, rows = _ass_table(asm[1], "Pupil Ref|Measure|Date Assessed|Result", Style("dmy"), False,
                         {"Reading age": "Reading Age", "SDQ total": "SDQ Total"})
    write_csv(out / f"{t.label}_assessments.csv", h, rows)
    note(f"{t.label}_assessments.csv", "assessments",
         "No direction column; measure names in a different case (Reading Age, SDQ Total)")

    # ---- 2022/23 summer
    t = terms[2]
    style = Style("dmy", "yn", "short", "code", money="pounds")
    h, rows = table(P_SUMMER_1252, pl[2], style)
    any_pupil = pl[2][0]
    rows.insert(len(rows) // 2, [
        "", "Tyler", "Ashworth", "03/02/2010", "M", "WBRI", "K", "N", "Y", "8", any_pupil["home_school"],
        any_pupil["home_school_urn"], any_pupil["trust"] or "", "BrightPath Tuition", "", "", "OOT",
        "School", "Behaviour", "05/06/2023", "14/07/2023", "", "6", "", "", "", "N", "£210.00"])
    write_csv(out / f"{t.label}_placements.csv", h, rows, encoding="cp1252")
    note(f"{t.label}_placements.csv", "placements",
         "Windows-1252 (accented names, £ in Weekly Fee such as £1,250.00); dd/mm/yyyy; census "
         "codes (PRU, OOT, OTH, NFE, WBP) and short reason labels (PEX, Behaviour, Medical...). "
         "REJECT: one row with no Pupil Ref")
    h, rows = _att_table(at[2], "UPN|From|To|Possible|Present|Setting", Style("iso"), "summary_end")
    write_csv(out / f"{t.label}_attendance.csv", h, rows)
    note(f"{t.label}_attendance.csv", "attendance", "Summary rows with From/To dates, ISO")
    h, rows = _excl_table(ex[2], "Pupil Ref|Type|Start Date|Number of Sessions|Reason|School|School URN|"
                          "MAT", Style("dmy_dot"), EXCLUSION_OLD_LABEL)
    write_csv(out / f"{t.label}_exclusions.csv", h, rows, delimiter=";")
    note(f"{t.label}_exclusions.csv", "exclusions",
         "Semicolon-delimited, dd.mm.yyyy dates; older labels (Fixed period exclusion, Permanent)")
    st = Style("cell", "cell", xlsx=True)
    h, rows = _ass_table(asm[2], "Pupil UPN|Indicator|Date|Value|Higher is Better", st, True)
    write_xlsx(out / f"{t.label}_assessments.xlsx", [Sheet("Assessments", h, rows)])
    note(f"{t.label}_assessments.xlsx", "assessments", "Excel date cells and TRUE/FALSE boolean cells")

    # ---- 2023/24 autumn: one workbook with Read me, Placements and Exclusions
    t = terms[3]
    style = Style("cell", "truefalse", "code", "code", xlsx=True)
    h, rows = table(P_WORKBOOK_23, pl[3], style)
    eh, erows = _excl_table(ex[3], "Pupil UPN|Exclusion Type|Exclusion Date|Sessions|Reason|School|"
                            "School URN|Academy Trust", Style("cell", xlsx=True), EXCLUSION_LABEL)
    victim = ex[3][len(ex[3]) // 3]
    erows.insert(len(erows) // 3 + 1, [victim.pupil.upn, "Internal exclusion", victim.start_date, 2,
                                       "DB", victim.school.name, victim.school.urn, victim.school.trust or ""])
    readme = _readme([
        f"{LA_NAME}: termly AP return, {t.title}",
        "This workbook holds the placements open during the term and the exclusions in it.",
        "It was produced from the inclusion team's case system (synthetic data for testing).",
        "Hours are not recorded this term: the sessions column gives the weekly pattern.",
        "Questions go to the inclusion data officer."])
    write_xlsx(out / f"{t.label}_ap_return.xlsx",
               [readme, Sheet("Placements", h, rows), Sheet("Exclusions", eh, erows)])
    note(f"{t.label}_ap_return.xlsx", "placements, exclusions",
         "Workbook: a 'Read me' sheet that matches no dataset (skipped), a Placements sheet "
         "(no NC year column, so it is derived; Sessions per Week instead of hours; True/False) and "
         "an Exclusions sheet; Excel date cells. REJECT: one exclusion of category 'Internal exclusion'")
    h, rows = _att_table(at[3], "Pupil UPN|Week Commencing|Possible|Attended|School", Style("dmy"), "summary")
    bad = rows[len(rows) // 2]
    rows.insert(len(rows) // 2, [bad[0], bad[1], "6", "8", "Ashbeck Learning Centre outreach"])
    write_csv(out / f"{t.label}_attendance.csv", h, rows, total=["Total", "", str(sum(int(r[2]) for r in rows)),
                                                               str(sum(int(r[3]) for r in rows)), ""])
    note(f"{t.label}_attendance.csv", "attendance",
         "Summary rows, dd/mm/yyyy, a Total row at the bottom. REJECT: one row with attended (8) "
         "> possible (6)")
    h, rows = _ass_table(asm[3], "UPN|Assessment|Assessment Date|Score|Higher is Better", Style("dmy"), True)
    write_csv(out / f"{t.label}_assessments.csv", h, rows)
    note(f"{t.label}_assessments.csv", "assessments", "dd/mm/yyyy; Higher is Better Y/N")

    # ---- 2023/24 spring
    t = terms[4]
    style = Style("dmy", "yn", "label", "code")
    h, rows = table(P_SPRING_24, pl[4], style)
    someone = pl[4][len(pl[4]) // 2]
    base = [someone["pupil_id"], someone["first_name"], someone["last_name"],
            style.date(someone["date_of_birth"]), someone["sex"], someone["ethnicity"],
            someone["sen_status"], "N", "Y", str(someone["nc_year"]), someone["home_school"],
            someone["home_school_urn"], someone["trust"] or ""]
    rows.insert(5, base + ["Oakleaf Farm Project CIC", "", "", "Other unregistered provider", "School",
                           "Off-site placement for behavioural support", "11/03/2024", "19/04/2024",
                           "15/03/2023", "10", "", "", "Returned to home school", "N", "240"])
    rows.insert(len(rows) - 3, base + ["Kestrel Home Tuition Service", "", "", "One on one tuition", "LA",
                                       "Awaiting school place", "03/14/2024", "", "", "5", "", "", "",
                                       "N", "190"])
    write_csv(out / f"{t.label}_placements.csv", h, rows,
              title=[f"{LA_NAME}: AP placements, {t.title}"])
    note(f"{t.label}_placements.csv", "placements",
         "A title row and a blank row above the header; dd/mm/yyyy; DfE labels. REJECTS: one row whose "
         "end date (15/03/2023) is before its start (11/03/2024); one row with a month-first date "
         "03/14/2024")
    h, rows = _att_table(at[4], "UPN|Week Beginning|Sessions Possible|% Attendance|Setting",
                         Style("d_mon_yyyy"), "pct")
    bad = rows[len(rows) // 3]
    rows.insert(len(rows) // 3, [bad[0], bad[1], "4", "110.0", "Riverside Re-engagement Hub (evening club)"])
    write_csv(out / f"{t.label}_attendance.csv", h, rows)
    note(f"{t.label}_attendance.csv", "attendance",
         "Percentage shape (% Attendance, one decimal); dates like 14 Mar 2024. REJECT: one row at 110%")
    h, rows = _excl_table(ex[4], "UPN|Type|Date of Exclusion|Sessions|Reason 1|School Name|School URN|MAT",
                          Style("dmy_short"), {"suspension": "Fixed term exclusion",
                                               "permanent": "Permanent exclusion", "lunchtime": "LNCH"})
    write_csv(out / f"{t.label}_exclusions.csv", h, rows)
    note(f"{t.label}_exclusions.csv", "exclusions", "Short day-first dates (14/3/24); Fixed term exclusion")
    h, rows = _ass_table(asm[4], "Pupil ID|Subject|Date|Value", Style("dmy_dash"), False)
    write_csv(out / f"{t.label}_assessments.csv", h, rows)
    note(f"{t.label}_assessments.csv", "assessments", "dd-mm-yyyy dates; no direction column")

    # ---- 2023/24 summer
    t = terms[5]
    style = Style("cell", "yn", "label", "label", xlsx=True)
    h, rows = table(P_SUMMER_24, pl[5], style)
    for r in rows:  # dates of birth typed as text in this tracker
        r[3] = DATE_STYLES["dmy"](r[3]) if isinstance(r[3], date) else r[3]
    write_xlsx(out / f"{t.label}_placements.xlsx", [Sheet("Placements", h, rows)])
    note(f"{t.label}_placements.xlsx", "placements",
         "Excel date cells, but DOB typed as dd/mm/yyyy text; carries a Registered Provider (Y/N) column; "
         "ethnicity labels")
    h, rows = _att_table(at[5], "Unique Pupil Number|Week Commencing|Week Ending|Possible Sessions|"
                         "Present + AEA|Provider", Style("cell", xlsx=True), "summary_end")
    write_xlsx(out / f"{t.label}_attendance.xlsx", [Sheet("Weekly attendance", h, rows,
                                                          title(t, "weekly attendance"))])
    note(f"{t.label}_attendance.xlsx", "attendance", "Summary rows; title rows; Excel date cells")
    h, rows = _excl_table(ex[5], "UPN|Category|Exclusion Date|Sessions|Reason|School|School URN|Academy Trust",
                          Style("serial", xlsx=True), EXCLUSION_CODE)
    h.append("Staff Initials")
    for k, r in enumerate(rows):
        r.append(("JB", "AK", "SM", "RT", "")[k % 5])
    write_xlsx(out / f"{t.label}_exclusions.xlsx", [Sheet("Exclusions", h, rows)])
    note(f"{t.label}_exclusions.xlsx", "exclusions",
         "Exclusion Date as Excel serial numbers (General format), not date cells; an extra "
         "'Staff Initials' column that matches nothing (reported as not recognised, not loaded)")
    h, rows = _ass_table(asm[5], "UPN|Assessment|Assessment Date|Score|Higher is Better",
                         Style("cell", "yn", xlsx=True), True)
    write_xlsx(out / f"{t.label}_assessments.xlsx", [Sheet("Sheet1", h, rows)])
    note(f"{t.label}_assessments.xlsx", "assessments", "Excel date cells; generic sheet name")

    # ---- 2024/25 autumn
    t = terms[6]
    style = Style("dmy_dash", "10", "code", "code")
    h, rows = table(P_AUTUMN_25, pl[6], style)
    write_csv(out / f"{t.label}_placements.csv", h, rows, delimiter="\t")
    note(f"{t.label}_placements.csv", "placements", "Tab-delimited; dd-mm-yyyy dates; booleans 1/0")
    h, rows = _att_table(at[6], "Pupil Ref|Week Commencing|Possible|Attended|Setting", Style("dmy_short"),
                         "summary")
    write_csv(out / f"{t.label}_attendance.csv", h, rows)
    note(f"{t.label}_attendance.csv", "attendance", "Summary rows; short dates (2/9/24)")
    h, rows = _excl_table(ex[6], EXCLUSION_CANONICAL.replace(" ", "|"), Style("iso"), None)
    write_csv(out / f"{t.label}_exclusions.csv", h, rows)
    note(f"{t.label}_exclusions.csv", "exclusions", "Canonical column names and values; ISO dates")
    h, rows = _ass_table(asm[6], "UPN|Assessment|Assessment Date|Score|Higher is Better",
                         Style("iso", "truefalse"), True)
    write_csv(out / f"{t.label}_assessments.csv", h, rows)
    note(f"{t.label}_assessments.csv", "assessments", "ISO dates; True/False")

    # ---- 2024/25 spring
    t = terms[7]
    style = Style("d_mon_yyyy", "yesno", "label", "label")
    h, rows = table(P_SPRING_25, pl[7], style)
    write_csv(out / f"{t.label}_placements.csv", h, rows,
              title=title(t, "alternative provision placements"), total=["Total", f"{len(rows)}"])
    note(f"{t.label}_placements.csv", "placements",
         "Dates like 14 Mar 2025; two title rows; a Total row; both Hours and Sessions per Week")
    h, rows = _att_table(at[7], "UPN|Week Commencing|Possible|Attended|Setting", Style("iso"), "summary")
    write_csv(out / f"{t.label}_attendance.csv", h, rows)
    note(f"{t.label}_attendance.csv", "attendance", "Summary rows; ISO")
    h, rows = _excl_table(ex[7], "UPN|Exclusion Type|Exclusion Date|Length (sessions)|Exclusion Reason|"
                          "School|School URN|MAT", Style("d_mon_yy"), EXCLUSION_LABEL)
    write_csv(out / f"{t.label}_exclusions.csv", h, rows)
    note(f"{t.label}_exclusions.csv", "exclusions", "Dates like 14-Mar-25; Length (sessions)")
    h, rows = _ass_table(asm[7], "UPN|Measure|Date|Result|Higher is Better", Style("d_mon_yy"), True)
    write_csv(out / f"{t.label}_assessments.csv", h, rows)
    note(f"{t.label}_assessments.csv", "assessments", "Dates like 14-Mar-25")

    # ---- 2024/25 summer: a workbook with Notes, Placements, Attendance, Assessments
    t = terms[8]
    style = Style("cell", "yn", "label", "label", xlsx=True)
    h, rows = table(P_SUMMER_25, pl[8], style)
    ah, arows = _att_table(at[8], "UPN|Week Commencing|Possible|Attended|Setting",
                           Style("cell", xlsx=True), "summary")
    sh, srows = _ass_table(asm[8], "UPN|Assessment|Assessment Date|Score|Higher is Better",
                           Style("cell", "yn", xlsx=True), True)
    notes = _readme([f"{LA_NAME}: end of year AP return, {t.title}",
                     "Sheets: placements open in the term, weekly attendance, assessments.",
                     "Register marks for the pupils on the pilot daily register are sent separately.",
                     "Synthetic data for testing: no real pupils."])
    notes.name = "Notes"
    write_xlsx(out / f"{t.label}_ap_return.xlsx",
               [notes, Sheet("Placements", h, rows), Sheet("Attendance", ah, arows),
                Sheet("Assessments", sh, srows)])
    note(f"{t.label}_ap_return.xlsx", "placements, attendance, assessments",
         "Workbook: a 'Notes' sheet that matches no dataset, then Placements, Attendance and "
         "Assessments sheets; Excel date cells; placements still open at the end have no end date")
    h, rows = _excl_table(ex[8], "UPN|Exclusion Type|Start Date|Sessions|Reason 1|School|School URN|MAT",
                          Style("iso"), EXCLUSION_CODE)
    write_csv(out / f"{t.label}_exclusions.csv", h, rows, title=[f"{LA_NAME}: exclusions, {t.title}"])
    note(f"{t.label}_exclusions.csv", "exclusions", "A title row above the header; ISO dates")
    reg = []
    for a in sorted(marked, key=lambda a: (a.pupil.upn, a.period_start)):
        for d, am, pm in a.marks:
            reg.append([a.pupil.upn, DATE_STYLES["dmy"](d), am, pm, a.setting])
    write_csv(out / f"{t.label}_register_marks.csv", ["UPN", "Date", "AM", "PM", "Setting"], reg)
    note(f"{t.label}_register_marks.csv", "attendance",
         "Register marks: one row per pupil per day with AM and PM DfE codes (/ \\ L B I O N M U G, "
         "# for an INSET day), for a few pupils over four weeks")
    assert all(p in pupils for p in (a.pupil.upn for a in world.attendance))
    return manifest
