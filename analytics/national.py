"""Published national (England) figures to compare an LA's dashboard against.

The figures live in a small committed table, ``analytics/data/national_figures.csv``: a few
dozen aggregate rows, each naming its source file and time period. It is derived from DfE's
published statistics (the files in ``../shared/realdata``, which are never copied into this
repository) by

    python -m analytics.national --extract /work/shared/realdata [--out PATH]

Every value is a count or a fraction between 0 and 1: DfE's percentages and "per 100 pupils"
rates are divided by 100 when extracted (the ``note`` column says so). DfE's symbols for a
missing or suppressed value (c, x, z, ., low, k, u, :, ~ and blank) become null, never 0.

>>> parse_value("c") is None, parse_value(" 1,245 "), parse_value("0")
(True, 1245.0, 0.0)
"""
from __future__ import annotations

import argparse
import csv
import gzip
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import pandas as pd

DATA_FILE = Path(__file__).resolve().parent / "data" / "national_figures.csv"
COLUMNS = ["measure", "breakdown", "value", "unit", "time_period", "source", "note"]
ATTRIBUTION = ("Contains public sector information licensed under the Open Government Licence "
               "v3.0 (Department for Education, Explore Education Statistics).")

# dfe-codes.md §6: suppressed, not available, not applicable, rounds to zero, low reliability,
# legacy "not computable" and the obsolete forms. None of them is a zero.
SYMBOLS = frozenset({"c", "x", "z", ".", "low", "k", "u", ":", "~", ""})

SPC = "DfE, Schools, pupils and their characteristics 2022/23"
SOURCES = {
    # The file is published beside the school census's AP tables, but what it counts is the AP
    # census's population (LA-funded AP, January 2023): its LA totals equal the AP census's
    # pupil counts in 130 of 149 LAs, and its national placements with "other unregistered"
    # providers (2,557) are fewer than the school census's pupils in school-arranged AP there
    # (6,449), which no count of the same pupils' placements could be (tests/test_national.py).
    "spc_ap_setting.csv": ("DfE, 2022/23: placements in LA-funded AP by setting type, January 2023 "
                           "(the AP census's population) (spc_ap_setting.csv)"),
    "spc_school_ap_placement.csv": (f"{SPC}: pupils in school-arranged AP by placement reason, "
                                    "January 2023 school census (spc_school_ap_placement.csv)"),
    "ap_placements_ap_census.csv.gz": ("DfE, Alternative provision census (January): pupils in "
                                       "LA-funded AP (ap_placements_ap_census.csv.gz)"),
    "exclusions_la_rates_sfr35_2017.csv": ("DfE, SFR35/2017 Permanent and fixed-period exclusions "
                                           "in England (exclusions_la_rates_sfr35_2017.csv)"),
    "absence_2term_pru.csv": ("DfE, Pupil absence in schools in England, autumn and spring "
                              "terms: pupil referral units (absence_2term_pru.csv)"),
}

# DfE's AP setting types (AP census), and the setting types of this product they correspond
# to (approximately: "Education setting with URN" covers independent and special schools and
# hospital education alike; PRUs and AP academies are not in the AP census at all).
DFE_SETTING_TYPES = {
    "Education setting with URN": ("state_ap_school", "independent_school", "special_school",
                                   "hospital"),
    "Registered provider with UKPRN": (),
    "Non-maintained further education college": ("fe_college",),
    "One on one tuition": ("one_to_one_tuition",),
    "Work based placement": ("work_based",),
    "Other unregistered provider": ("other_unregistered", "online"),
    "Unknown": ("unknown",),
}

# DfE's placement reasons (school census, school-arranged AP) and this product's reasons.
DFE_REASONS = {
    "Permanent exclusion (where still going through the review process)": ("permanent_exclusion",),
    "Suspension": ("suspension",),
    "Off-site placement for behavioural support": ("behaviour_support",),
    "Medical condition (physical health need)": ("medical_physical",),
    "Medical condition (mental health need)": ("medical_mental_health",),
    "Other": ("awaiting_school_place", "awaiting_specialist_place", "other", "unknown"),
}

class Comparison(NamedTuple):
    """One side-by-side comparison: the local figures are counted over the same population as
    DfE's, so that the two shares describe the same kind of placement."""
    title: str
    measure: str            # the national shares (by DfE group)
    total_measure: str      # the national n they are shares of
    local_basis: str        # what the local shares count
    national_basis: str     # what DfE's count
    commissioner: str       # the local placements in DfE's population: commissioned by ...
    left_out: tuple[str, ...] = ()   # ... and not in these setting types
    outside: str = ""       # what the local placements left out are
    source_file: str = ""   # the DfE file of the national figures (a key of SOURCES)


COMPARISONS = {
    # The AP census counts AP that the LA funds, and not pupils on a PRU or AP academy roll
    # (they are in the school census): dfe-codes.md §1.1.
    "setting_type": Comparison(
        "Open placements in LA-funded AP by setting type", "la_funded_ap_placements_share_by_setting_type",
        "la_funded_ap_placements",
        "open placements commissioned by the LA, other than at a PRU or AP academy, at the as-of date",
        "placements in LA-funded AP, January census",
        "la", ("state_ap_school",),
        "placements commissioned by schools, with no commissioner recorded, or at a PRU or AP academy",
        "spc_ap_setting.csv"),
    # The school census counts AP that schools arrange: "permanent exclusion" there is a pupil
    # still on the school's roll while the exclusion is reviewed.
    "reason": Comparison(
        "Pupils in school-arranged AP by placement reason", "school_arranged_ap_pupils_share_by_reason",
        "school_arranged_ap_pupils",
        "pupils in AP commissioned by schools at the as-of date (the reason of their latest such open "
        "placement)",
        "pupils in school-arranged AP, January school census",
        "school", (),
        "pupils whose open placements were all commissioned by the LA or have no commissioner recorded",
        "spc_school_ap_placement.csv"),
}


def parse_value(text: str | None) -> float | None:
    """A published cell as a number, or None for a DfE symbol; other text is an error.

    >>> [parse_value(s) for s in ("x", "z", ".", "low", ":", "~", "12.5")]
    [None, None, None, None, None, None, 12.5]
    """
    if text is None:
        return None
    cleaned = text.strip()
    if cleaned.casefold() in SYMBOLS:
        return None
    try:
        return float(cleaned.replace(",", ""))
    except ValueError:
        raise ValueError(f"not a number or a DfE symbol: {text!r}") from None


def academic_year(code: str) -> str:
    """'202223' -> '2022/23' (EES time_period codes for academic years).

    >>> academic_year("201617")
    '2016/17'
    """
    code = code.strip()
    if len(code) == 6 and code.isdigit():
        return f"{code[:4]}/{code[4:]}"
    return code


def _rows(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        yield from csv.DictReader(f)


def _share(part: float | None, total: float | None) -> float | None:
    if part is None or total is None or total == 0:
        return None
    return part / total


def _fraction(percent: float | None) -> float | None:
    return None if percent is None else percent / 100


def _figure(measure, breakdown, value, unit, time_period, file, note="") -> dict:
    return {"measure": measure, "breakdown": breakdown, "value": value, "unit": unit,
            "time_period": time_period, "source": SOURCES[file], "note": note}


def _national(rows: Iterable[dict], level_col: str = "geographic_level") -> Iterator[dict]:
    return (r for r in rows if r[level_col].strip().casefold() == "national")


def extract_setting_types(folder: Path) -> list[dict]:
    """Shares of England's placements in LA-funded AP by setting type, and the total."""
    file = "spc_ap_setting.csv"
    by_period: dict[str, dict[str, float | None]] = {}
    for r in _national(_rows(folder / file)):
        by_period.setdefault(r["time_period"], {})[r["setting_type"].strip()] = parse_value(r["placements"])
    out = []
    for period, values in sorted(by_period.items()):
        total = values.get("Total")
        out.append(_figure("la_funded_ap_placements", "Total", total, "count",
                           academic_year(period), file,
                           "placements, not pupils, in AP the LA funds (not PRUs or AP academies)"))
        for setting, n in values.items():
            if setting != "Total":
                out.append(_figure("la_funded_ap_placements_share_by_setting_type", setting,
                                   _share(n, total), "fraction", academic_year(period), file,
                                   "share of all placements in LA-funded AP"))
    return out


def extract_placement_reasons(folder: Path) -> list[dict]:
    """Shares of England's pupils in school-arranged AP by placement reason, and the total."""
    file = "spc_school_ap_placement.csv"
    totals: dict[str, float | None] = {}
    reasons: dict[str, dict[str, float | None]] = {}
    for r in _national(_rows(folder / file)):
        if r["setting_type"].strip() != "Total":
            continue
        value = parse_value(r["pupils"])
        if r["characteristic_grouping"].strip() == "Total":
            totals[r["time_period"]] = value
        elif r["characteristic_grouping"].strip() == "Placement Reason":
            reasons.setdefault(r["time_period"], {})[r["pupil_characteristic"].strip()] = value
    out = []
    for period, total in sorted(totals.items()):
        out.append(_figure("school_arranged_ap_pupils", "Total", total, "count",
                           academic_year(period), file, "pupils in any setting type"))
        for reason, n in reasons.get(period, {}).items():
            out.append(_figure("school_arranged_ap_pupils_share_by_reason", reason,
                               _share(n, total), "fraction", academic_year(period), file,
                               "share of pupils in school-arranged AP"))
    return out


def extract_ap_census(folder: Path) -> list[dict]:
    """England's pupils in LA-funded AP (AP census, January) by year."""
    file = "ap_placements_ap_census.csv.gz"
    out = []
    for r in _national(_rows(folder / file)):
        if all(r[c].strip() == "Total" for c in ("gender", "age", "ethnicity_minor", "fsm")):
            out.append(_figure("ap_census_pupils", "Total", parse_value(r["number_of_pupils"]),
                               "count", academic_year(r["time_period"]), file,
                               "January census of LA-funded AP"))
    return sorted(out, key=lambda f: f["time_period"])


def extract_exclusion_rates(folder: Path) -> list[dict]:
    """England's permanent and fixed-period exclusion rates (all state-funded schools) by year."""
    file = "exclusions_la_rates_sfr35_2017.csv"
    out = []
    note = "published per 100 pupils (rounded to 2 d.p.), stored as a fraction"
    for r in _national(_rows(folder / file), level_col="level"):
        if r["school_type"].strip() != "Total":
            continue
        period = academic_year(r["year"])
        breakdown = "State-funded primary, secondary and special schools"
        out.append(_figure("permanent_exclusion_rate", breakdown,
                           _fraction(parse_value(r["perm_excl_rate"])), "fraction", period, file, note))
        out.append(_figure("fixed_period_exclusion_rate", breakdown,
                           _fraction(parse_value(r["fixed_excl_rate"])), "fraction", period, file,
                           note + "; fixed-period exclusions are what DfE now calls suspensions"))
    return sorted(out, key=lambda f: (f["measure"], f["time_period"]))


def extract_pru_absence(folder: Path) -> list[dict]:
    """England's PRU overall absence and persistent absence (10%), autumn and spring terms."""
    file = "absence_2term_pru.csv"
    out = []
    for r in _national(_rows(folder / file)):
        period = academic_year(r["time_period"])
        out.append(_figure("pru_overall_absence_rate", "Pupil referral units",
                           _fraction(parse_value(r["sess_overall_percent"])), "fraction", period,
                           file, "share of possible sessions missed, autumn and spring terms; "
                                 "published as a percentage"))
        out.append(_figure("pru_persistent_absence_rate", "Pupil referral units",
                           _fraction(parse_value(r["enrolments_pa_10_exact_percent"])), "fraction",
                           period, file, "share of enrolments missing 10% or more of sessions, "
                                         "autumn and spring terms; published as a percentage"))
    return sorted(out, key=lambda f: (f["measure"], f["time_period"]))


EXTRACTORS = (extract_setting_types, extract_placement_reasons, extract_ap_census,
              extract_exclusion_rates, extract_pru_absence)


def extract(folder: Path | str) -> pd.DataFrame:
    """The national figures table, computed from DfE's published files in folder."""
    folder = Path(folder)
    rows = [row for extractor in EXTRACTORS for row in extractor(folder)]
    return pd.DataFrame(rows, columns=COLUMNS)


def write(df: pd.DataFrame, path: Path | str = DATA_FILE) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in df[COLUMNS].itertuples(index=False):
            writer.writerow([_cell(v) for v in row])


def _cell(value) -> str:
    """Blank for null; numbers to 12 significant figures (0.0488, not 0.048799999999999996)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return format(value, ".12g")
    return str(value)


def figures(path: Path | str = DATA_FILE) -> pd.DataFrame:
    """The committed national figures: measure, breakdown, value (float, NaN when DfE
    published a symbol), unit ('count' or 'fraction'), time_period ('2022/23'), source, note.
    Cite them with :data:`ATTRIBUTION`."""
    df = pd.read_csv(path, dtype={c: "string" for c in COLUMNS if c != "value"},
                     keep_default_na=False, na_values={"value": [""]})
    df["value"] = df["value"].astype(float)
    return df[COLUMNS]


def figures_as_published(path: Path | str = DATA_FILE) -> pd.DataFrame:
    """figures() with a 'readable' column: each value as a count, a percentage or a rate per 100
    ('4.76 per 100 pupils', '79.9%', '41,319'), so that a fraction is not quoted as a rate; and a symbol
    (suppressed, not applicable) as 'not published', never blank or 0.

    >>> df = figures_as_published()
    >>> df.loc[df.measure == "permanent_exclusion_rate", "readable"].iloc[-1]
    '0.10 per 100 pupils'
    """
    df = figures(path)
    per_100 = df["note"].str.contains("per 100", regex=False)

    def shown(value, unit, rate):
        if pd.isna(value):
            return "not published (a DfE symbol)"
        if unit == "count":
            return f"{value:,.0f}"
        if rate:
            return f"{100 * value:.2f} per 100 pupils"
        return f"{100 * value:.1f}%" if value == 0 or value >= 0.0005 else "less than 0.1%"

    df.insert(3, "readable", [shown(v, u, r) for v, u, r in zip(df["value"], df["unit"], per_100)])
    return df


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analytics.national",
                                     description="Extract national comparison figures from DfE files.")
    parser.add_argument("--extract", metavar="FOLDER", required=True,
                        help="folder holding DfE's published CSV files (e.g. ../shared/realdata)")
    parser.add_argument("--out", default=str(DATA_FILE), help="where to write the small table")
    args = parser.parse_args(argv)
    try:
        df = extract(args.extract)
    except (OSError, KeyError, ValueError) as e:
        print(f"Could not extract the national figures: {e}", file=sys.stderr)
        return 1
    write(df, args.out)
    print(f"Wrote {len(df)} figures to {args.out}. {ATTRIBUTION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def compare(con, filters, settings, by: str, today=None, path: Path | str = DATA_FILE) -> pd.DataFrame:
    """Local shares beside the published national shares, one row per DfE group:
    [group, local_n, local_total, local_share, national_share, national_period,
    national_total, local_outside].

    The local figures are counted over DfE's population (``COMPARISONS[by]``): placements
    commissioned by the LA and not at a PRU or AP academy for the setting types (the AP census),
    pupils in AP commissioned by schools for the reasons (the school census). ``local_outside``:
    how many open placements (pupils) the filters chose that are outside it.
    ``by`` 'setting_type': open placements at as_of in DfE's AP setting types (the census
    rule: a provider URN makes an "Education setting with URN", else a UKPRN a "Registered
    provider with UKPRN", else the setting type decides). ``by`` 'reason': pupils by the reason
    of their latest-starting open placement of those commissioned by schools. Groups come in
    DfE's order; a local share is blank when nothing comparable is open, a national share when
    DfE published none (a symbol). ``national_total``: DfE's n (placements or pupils).
    """
    from analytics.time_in_ap import scope   # here: the extractor above needs no database

    if by not in COMPARISONS:
        raise ValueError(f"No national comparison by {by!r}; choose one of {', '.join(COMPARISONS)}.")
    c = COMPARISONS[by]
    table = DFE_SETTING_TYPES if by == "setting_type" else DFE_REASONS
    groups = list(table)
    local_keys = [k for g in groups for k in table[g]]
    local_groups = [g for g in groups for _ in table[g]]
    period, sql, params = scope(filters, settings, today)
    comparable = ("COALESCE(commissioner = ?, false) AND COALESCE(setting_type, 'unknown') <> ALL(?::VARCHAR[])")
    comparable_params = [c.commissioner, list(c.left_out)]
    if by == "setting_type":
        label = ("CASE WHEN trim(COALESCE(provider_urn, '')) <> '' THEN ? "
                 "WHEN trim(COALESCE(provider_ukprn, '')) <> '' THEN ? "
                 "ELSE COALESCE(m.dfe, ?) END")
        label_params = ["Education setting with URN", "Registered provider with UKPRN", "Unknown"]
        rows_sql = (f"SELECT CASE WHEN {comparable} THEN {label} END AS dfe FROM ({sql}) s "
                    "LEFT JOIN m ON m.local = COALESCE(s.setting_type, 'unknown') WHERE s.is_open")
        row_params = comparable_params + label_params + params
    else:
        # each pupil once: the latest-starting of their open placements in DfE's population, or
        # no group (outside it) when they have none
        rows_sql = (f"SELECT CASE WHEN s.inside THEN COALESCE(m.dfe, ?) END AS dfe "
                    f"FROM (SELECT pupil_id, bool_or({comparable}) AS inside, "
                    f"arg_max(COALESCE(reason, 'unknown'), start_date) FILTER (WHERE {comparable}) AS reason_ "
                    f"FROM ({sql}) WHERE is_open GROUP BY pupil_id) s "
                    "LEFT JOIN m ON m.local = s.reason_")
        row_params = ["Other"] + comparable_params + comparable_params + params
    counts = dict(con.execute(f"""
        WITH m AS (SELECT unnest(?::VARCHAR[]) AS local, unnest(?::VARCHAR[]) AS dfe),
        r AS ({rows_sql})
        SELECT dfe, count(*) FROM r GROUP BY dfe
    """, [local_keys, local_groups] + row_params).fetchall())
    outside = int(counts.pop(None, 0))
    total = sum(counts.values())
    nat = figures(path)
    shares = nat[nat["measure"] == c.measure]
    latest = shares["time_period"].max() if len(shares) else None
    shares = shares[shares["time_period"] == latest].set_index("breakdown")["value"]
    n = nat[(nat["measure"] == c.total_measure) & (nat["breakdown"] == "Total") & (nat["time_period"] == latest)]
    national_total = float(n["value"].iloc[0]) if len(n) and pd.notna(n["value"].iloc[0]) else None
    return pd.DataFrame({
        "group": groups,
        "local_n": [int(counts.get(g, 0)) for g in groups],
        "local_total": [total] * len(groups),
        "local_share": [counts.get(g, 0) / total if total else None for g in groups],
        "national_share": [float(shares[g]) if g in shares.index and pd.notna(shares[g]) else None
                           for g in groups],
        "national_period": [latest] * len(groups),
        "national_total": pd.array([None if national_total is None else int(national_total)] * len(groups),
                                   dtype="Int64"),
        "local_outside": [outside] * len(groups),
    })
