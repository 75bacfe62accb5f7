"""The filtered placements and pupils every metric starts from, as (sql, params).

Values reach SQL only as parameters; column names come from settings.PLACEMENT_FILTER_COLUMNS.
The derived columns apply metrics.md's common terms at as_of:

- ``eff_end``: end_date when it is on or before as_of, else NULL (still open at as_of);
- ``is_open``: start_date <= as_of and eff_end is NULL;
- ``days``: placement days, (coalesce(eff_end, as_of) - start_date) + 1;
- ``eff_destination``: NULL while open; the destination, or 'unknown' when blank, once ended;
- ``eff_review``: last_review_date when on or before as_of, else NULL.

The stored ``end_date``, ``destination`` and ``last_review_date`` are replaced in the same way
(blank when dated after as_of), so a page that lists placements as of a past date does not show
what happened later.

>>> sql, params = placements_sql(Filters(sex=("F",)), Period(date(2025, 3, 1), date(2024, 9, 1), date(2025, 3, 1)))
>>> len(params), params[-1]
(11, ['F'])
"""
from __future__ import annotations

from datetime import date

from analytics.settings import BOOL_FILTER_COLUMNS, PLACEMENT_FILTER_COLUMNS, Filters, Period


def _filter_clauses(filters: Filters) -> tuple[list[str], list]:
    clauses, params = [], []
    for field, column in PLACEMENT_FILTER_COLUMNS.items():
        values = getattr(filters, field)
        if values:
            clauses.append(f"{column} = ANY(?)")
            params.append(list(values))
    for field in BOOL_FILTER_COLUMNS:
        value = getattr(filters, field)
        if value is not None:
            clauses.append(f"{field} IS NOT DISTINCT FROM ?")
            params.append(bool(value))
    return clauses, params


def placements_sql(filters: Filters, period: Period) -> tuple[str, list]:
    """Placements started by as_of and selected by the filters, with the derived columns."""
    clauses, fparams = _filter_clauses(filters)
    where = " AND ".join(["start_date <= ?"] + clauses)
    # What is dated after as_of is not shown either (metrics.md): an end date, the destination
    # that goes with it and a review after as_of read as not there yet.
    sql = f"""
        SELECT p.* REPLACE (CASE WHEN end_date <= ? THEN end_date END AS end_date,
                            CASE WHEN end_date <= ? THEN destination END AS destination,
                            CASE WHEN last_review_date <= ? THEN last_review_date END AS last_review_date),
               CASE WHEN end_date <= ? THEN end_date END AS eff_end,
               (end_date IS NULL OR end_date > ?) AS is_open,
               date_diff('day', start_date, LEAST(COALESCE(end_date, ?), ?)) + 1 AS days,
               CASE WHEN end_date IS NOT NULL AND end_date <= ?
                    THEN COALESCE(destination, 'unknown') END AS eff_destination,
               CASE WHEN last_review_date <= ? THEN last_review_date END AS eff_review
        FROM placements p
        WHERE {where}
    """
    a = period.as_of
    return sql, [a, a, a, a, a, a, a, a, a, a] + fparams


def selected_placements_sql(filters: Filters) -> tuple[str, list]:
    """Every placement the filters select, whatever its dates, without the derived columns.

    For set-based work over several as_of dates at once (trends): each caller applies
    ``start_date <= as_of`` and the derived columns per date, as placements_sql does for one.
    """
    clauses, params = _filter_clauses(filters)
    return f"SELECT * FROM placements p WHERE {' AND '.join(clauses) or 'true'}", params


def pupils_sql(filters: Filters, period: Period) -> tuple[str, list] | None:
    """Pupils the filters select (those with a selected placement), or None for everyone.

    Exclusions, attendance and assessments are restricted to these pupils when a filter narrows
    the placements; with no such filter every pupil in the store counts.
    """
    if not filters.selects_placements():
        return None
    sql, params = placements_sql(filters, period)
    return f"SELECT DISTINCT pupil_id FROM ({sql})", params
