"""Small-number suppression for shared figures (metrics.md §7, dfe-codes.md §6).

Counts from 1 to threshold − 1 show as ``c``, DfE's symbol for a confidential cell; 0 stays 0
(a zero discloses nothing about a child). Rates show as ``c`` when their denominator is below
the threshold, and also when their numerator is a suppressed count, because a rate printed
beside its denominator gives the hidden count back (DfE suppresses "rates built on them").
A rate whose denominator is 0 or unknown stays null, as metrics.md defines it.

>>> suppress_count(2), suppress_count(0), suppress_count(7)
('c', 0, 7)
>>> suppress_rate(1, 2), suppress_rate(3, 12), suppress_rate(0, 0)
('c', 0.25, None)
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import pandas as pd

SUPPRESSED = "c"


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value)) or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _is_small(n, threshold: int) -> bool:
    """True when n is a count that must be hidden: 1 ≤ n < threshold."""
    return not _missing(n) and n != SUPPRESSED and 0 < n < threshold


def suppress_count(n, threshold: int = 3):
    """n, or 'c' when 1 ≤ n < threshold. 0 and missing values are returned unchanged.

    >>> [suppress_count(n) for n in (0, 1, 2, 3)]
    [0, 'c', 'c', 3]
    """
    return SUPPRESSED if _is_small(n, threshold) else n


def suppress_rate(numerator, denominator, threshold: int = 3):
    """numerator / denominator, or 'c' when either count would be hidden; None for 0 or no data.

    >>> suppress_rate(0, 5), suppress_rate(2, 40), suppress_rate(5, 2)
    (0.0, 'c', 'c')
    """
    if _missing(denominator) or denominator == 0:
        return None
    if _is_small(denominator, threshold) or _is_small(numerator, threshold):
        return SUPPRESSED
    if _missing(numerator):
        return None
    return numerator / denominator


def suppress_part(part, whole, threshold: int = 3):
    """A count shown as "part of whole" beside its whole: 'c' when it is small, or when the rest
    (whole − part) is, since the reader subtracts. The whole is suppressed on its own.

    >>> suppress_part(15, 21, 10), suppress_part(33, 35), suppress_part(20, 35), suppress_part(0, 2)
    ('c', 'c', 20, 0)
    """
    if _missing(part) or _missing(whole) or part == SUPPRESSED or whole == SUPPRESSED:
        return suppress_count(part, threshold)
    if part == 0:
        return 0   # "0 of n": the rest is the whole, which is shown or hidden on its own
    if _is_small(part, threshold) or _is_small(whole - part, threshold):
        return SUPPRESSED
    return part


def suppress_share(part, whole, threshold: int = 3):
    """part / whole shown beside the whole ("94%, n = 35"): as suppress_rate, and also 'c' when
    the rest (whole − part) is small, which the rate and the whole give back.

    >>> suppress_share(33, 35), suppress_share(20, 35), suppress_share(35, 35), suppress_share(0, 0)
    ('c', 0.5714285714285714, 1.0, None)
    """
    rate = suppress_rate(part, whole, threshold)
    if rate is None or rate == SUPPRESSED or _missing(part):
        return rate
    return SUPPRESSED if _is_small(whole - part, threshold) else rate


def _is_total_row(df: pd.DataFrame, label_cols: Sequence[Hashable], label) -> pd.Series:
    mask = pd.Series(df.index == label, index=df.index) if label is not None else \
        pd.Series(False, index=df.index)
    if label is not None:
        for col in label_cols:
            mask |= df[col].astype(object).eq(label).fillna(False).astype(bool)
    return mask


def _determined(values: dict, hidden: set, cells: Sequence, free=frozenset()) -> bool:
    """True when the hidden cells of a line (parts, then its total) could be worked out: exactly
    one is hidden (found by subtraction), or the total is shown and every hidden cell is 1 (a
    hidden count is at least 1, so k hidden cells adding up to k are all 1), or every hidden
    cell is 0 (hidden cells adding up to 0). A ``free`` cell is a part no figure shows (the
    rest of a whole): the reader knows it only as at least 0, so a line holding one is worked
    out only when its hidden cells add up to 0.

    >>> _determined({"a": 1, "b": 4, "t": 5}, {"a"}, ["a", "b", "t"])
    True
    >>> _determined({"a": 0, "rest": 1, "t": 5, "b": 4}, {"a", "rest"}, ["a", "b", "rest", "t"], {"rest"})
    False
    """
    hidden_here = [cell for cell in cells if cell in hidden]
    if not [cell for cell in hidden_here if cell not in free]:
        return False
    if any(cell in free for cell in cells):
        return cells[-1] not in hidden and all(values[cell] == 0 for cell in hidden_here)
    if len(hidden_here) == 1:
        return True
    if cells[-1] in hidden:
        return False
    found = [values[cell] for cell in hidden_here]
    return all(v == 1 for v in found) or all(v == 0 for v in found)


def _protect(values: dict, hidden: set, cells: Sequence, fixed=frozenset(), zeros: bool = False,
             lines_of: Mapping | None = None, free=frozenset(), cost: Mapping | None = None) -> bool:
    """Within one line of cells that adds up to a total (the last cell), hide one more cell when
    the hidden ones could be worked out (:func:`_determined`). Cells in ``fixed`` are shown
    elsewhere, so hiding them here would protect nothing: they are never picked. The pick is
    the cheapest (``cost``: {cell: what hiding it takes from the reader}, 0 if not given), then
    the smallest non-zero. Zeros are picked only when ``zeros``, after the non-zero cells of the
    same cost, and then the one whose other lines (``lines_of``) stay undetermined, if there is
    one: a hidden 0 in a line whose other parts already add up to its total is known to be 0.
    Returns True on a change."""
    if not _determined(values, hidden, cells, free):
        return False
    cost = cost or {}
    pool = [cell for cell in cells if cell not in hidden and cell not in fixed
            and not _missing(values[cell]) and values[cell] != SUPPRESSED and (zeros or values[cell] != 0)]
    if not pool:
        return False
    cheapest = min(cost.get(cell, 0) for cell in pool)
    pool = [cell for cell in pool if cost.get(cell, 0) == cheapest]
    nonzero = [cell for cell in pool if values[cell] != 0]
    if nonzero:
        hidden.add(min(nonzero, key=lambda cell: values[cell]))   # first on a tie (stable order)
        return True

    def newly_determined(cell) -> int:
        trial = hidden | {cell}
        return sum(_determined(values, trial, line, free) for line in (lines_of or {}).get(cell, ()))

    hidden.add(min(pool, key=newly_determined))
    return True


def protect_cells(values: Mapping, lines: Sequence[Sequence], threshold: int = 3,
                  fixed=frozenset(), zeros: bool = False, already=(), free=frozenset(),
                  cost: Mapping | None = None) -> tuple[set, list]:
    """The cells to hide among ``values`` ({cell: count, or 'c' for a cell hidden elsewhere}),
    and the lines left open to subtraction.

    Each line is a sequence of cells whose parts add up to its last cell. Small counts and 'c'
    cells are hidden first; then, line by line until nothing changes, a second cell is hidden
    wherever the hidden ones could be worked out. ``fixed`` cells are shown by another figure
    (never hidden here, unless 'c'); ``zeros`` allows a 0 to be hidden when nothing else
    is left; ``already``: cells hidden from the start (hidden by another figure); ``free``:
    parts no figure shows (see :func:`_determined`); ``cost``: {cell: a number}, the cheaper
    cells hidden first (a count two figures show, say, costs more). A line still open at the end (all its other cells fixed) is returned, so
    that the caller can withhold the figure.

    >>> values = {"a": 1, "b": 4, "c": 0, "total": 5}
    >>> sorted(protect_cells(values, [["a", "b", "c", "total"]])[0])
    ['a', 'b']
    >>> shown_elsewhere = {"b", "total"}
    >>> sorted(protect_cells(values, [["a", "b", "c", "total"]], fixed=shown_elsewhere, zeros=True)[0])
    ['a', 'c']
    >>> protect_cells(values, [["a", "b", "c", "total"]], fixed=shown_elsewhere)[1]
    [['a', 'b', 'c', 'total']]
    """
    hidden = {cell for cell, v in values.items()
              if v == SUPPRESSED or (_is_small(v, threshold) and cell not in fixed)}
    hidden |= set(already) | set(free)
    lines_of: dict = {}
    for line in lines:
        for cell in line:
            lines_of.setdefault(cell, []).append(line)
    changed = True
    while changed:
        changed = False
        for line in lines:
            changed |= _protect(values, hidden, line, fixed, zeros, lines_of, free, cost)
    return hidden - set(free), [list(line) for line in lines if _determined(values, hidden, line, free)]


def suppress_table(df: pd.DataFrame, count_cols: Sequence[Hashable],
                   rate_cols: Mapping[Hashable, tuple[Hashable, Hashable]] | None = None,
                   threshold: int = 3, total_row_label=None,
                   total_col: Hashable | None = None,
                   stat_cols: Mapping[Hashable, Hashable] | None = None) -> pd.DataFrame:
    """A copy of df with small counts, and the rates and totals that would reveal them, as 'c'.

    - ``stat_cols``: {statistic column: count column of the group it describes} for medians,
      shares and averages with no numerator of their own (a median cost, an attendance rate over
      sessions): the statistic is hidden wherever its group's count is (a median of two
      placements is their average; metrics.md §7 hides what is built on a small count).

    - ``count_cols``: columns of counts. Cells with 1 ≤ n < threshold become 'c' (primary).
    - ``rate_cols``: {rate column: (numerator column, denominator column)}; a rate cell keeps
      its value (fraction or percentage, as given) unless :func:`suppress_rate` hides it, or
      either of its counts is hidden in the result (after secondary suppression).
    - ``total_row_label``: the label of a row holding column totals, looked for in the index and
      in the columns that are neither counts nor rates (e.g. a "Total" row under a "provider"
      column). Each count column then adds up to that row.
    - ``total_col``: a count column that holds each row's total of the other count columns.

    Secondary suppression: in every column (with its total-row cell) and every row (with its
    total-column cell) where exactly one cell is hidden, or where the total is shown and every
    hidden cell is a 1 (hidden cells are at least 1, so two hidden cells adding up to 2 are both
    1), the next smallest non-zero cell is hidden too, repeated until nothing changes. Zeros are
    never used to protect a cell: hiding a 0 beside a 1 still tells the reader the pair adds up
    to 1. A table with no totals needs no secondary suppression (the caller must not show a
    total of the hidden cells elsewhere: views/_ui.figure adds a Total row where it does).
    Figures that show the same counts as others are protected together instead
    (analytics/outcomes_shared.py).

    Worked example (threshold 3)::

        provider  a  b  total             provider  a  b  total
        X         1  5      6     ->      X         c  c      6
        Y         4  6     10             Y         c  c     10
        Total     5 11     16             Total     5 11     16

    X.a = 1 is hidden; row X then has one hidden cell so X.b (the only other) is hidden; column a
    has one hidden cell so Y.a (4) is hidden; column b likewise hides Y.b (6).
    """
    rate_cols = dict(rate_cols or {})
    count_cols = list(count_cols)
    missing = [c for c in [*count_cols, *rate_cols,
                           *(col for pair in rate_cols.values() for col in pair)]
               if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the table: {missing}")
    if total_col is not None and total_col not in count_cols:
        raise ValueError("total_col must be one of count_cols")

    out = df.copy()
    rows = list(range(len(df)))
    values = {(r, c): df[c].iloc[r] for c in count_cols for r in rows}

    label_cols = [c for c in df.columns if c not in count_cols and c not in rate_cols]
    total_mask = _is_total_row(df, label_cols, total_row_label).to_numpy()
    total_rows = [r for r in rows if total_mask[r]]
    body_rows = [r for r in rows if not total_mask[r]]

    # Each line is a set of cells whose body adds up to its total cell (the total is part of
    # the line: a hidden total beside shown parts is as disclosive as a hidden part).
    all_lines: list[list] = []
    if total_rows:
        for c in count_cols:
            all_lines.append([(r, c) for r in body_rows + total_rows])
    if total_col is not None:
        parts = [c for c in count_cols if c != total_col]
        for r in rows:
            all_lines.append([(r, c) for c in parts + [total_col]])
    hidden, _ = protect_cells(values, all_lines, threshold)

    for c in count_cols:
        col = out[c].astype(object)
        for r in rows:
            if (r, c) in hidden:
                col.iloc[r] = SUPPRESSED
        out[c] = col
    for rate_col, (num_col, den_col) in rate_cols.items():
        col = out[rate_col].astype(object)
        for r in rows:
            check = suppress_rate(df[num_col].iloc[r], df[den_col].iloc[r], threshold)
            if check == SUPPRESSED or (
                    check is not None and ((r, num_col) in hidden or (r, den_col) in hidden)):
                col.iloc[r] = SUPPRESSED
        out[rate_col] = col
    for stat_col, base_col in (stat_cols or {}).items():
        if stat_col not in out.columns or base_col not in df.columns:
            continue
        col = out[stat_col].astype(object)
        for r in rows:
            base = df[base_col].iloc[r]
            if ((r, base_col) in hidden or _is_small(base, threshold)) and not _missing(col.iloc[r]):
                col.iloc[r] = SUPPRESSED
        out[stat_col] = col
    return out


TOTAL_LABEL = "Total"


def add_total_row(df: pd.DataFrame, count_cols: Sequence[Hashable],
                  rate_cols: Mapping[Hashable, tuple[Hashable, Hashable]] | None = None,
                  repeated: Sequence[Hashable] = (), label: str = TOTAL_LABEL,
                  label_col: Hashable | None = None, blank: Sequence[Hashable] = ()) -> pd.DataFrame:
    """df with a last row of totals, for a table whose rows are parts of a whole shown beside it
    (a headline, a chart's n): with the total in the table, :func:`suppress_table` (given
    ``total_row_label=label``) hides a second cell wherever one would be found by subtraction.

    - each count column: its sum; a column in ``repeated`` (a total already printed on every
      row, such as "of N") keeps that value; a column in ``blank`` (counts that do not add up
      across rows, such as distinct pupils when a pupil can be in two rows) is left blank;
    - each rate column: its numerator total over its denominator total (None when that is 0);
    - ``label`` in ``label_col`` (default: the first other column); every other cell blank.

    >>> parts = pd.DataFrame({"group": ["a", "b"], "n": [2, 5], "of": [7, 7], "share": [2 / 7, 5 / 7]})
    >>> [str(v) for v in add_total_row(parts, ["n", "of"], {"share": ("n", "of")}, repeated=["of"]).iloc[-1]]
    ['Total', '7', '7', '1.0']
    """
    rate_cols = dict(rate_cols or {})
    row: dict = {c: None for c in df.columns}
    for c in count_cols:
        values = pd.to_numeric(df[c], errors="coerce")
        if c in blank:
            value = None
        elif c in repeated:
            value = values.iloc[0] if len(values) and values.nunique() == 1 else None
        else:
            value = values.sum(min_count=1)
        row[c] = None if _missing(value) else (int(value) if float(value).is_integer() else float(value))
    for c, (num, den) in rate_cols.items():
        n, d = row.get(num), row.get(den)
        row[c] = None if _missing(n) or _missing(d) or d == 0 else n / d
    others = [c for c in df.columns if c not in count_cols and c not in rate_cols]
    if label_col is not None:
        others = [label_col] + [c for c in others if c != label_col]
    if others:
        row[others[0]] = label
    out = df.astype({others[0]: object}) if others else df.copy()
    total = pd.DataFrame([row], columns=df.columns, index=[label] if not others else None)
    return pd.concat([out, total], ignore_index=bool(others))


def hide_cells(df: pd.DataFrame, key: Hashable, cells, rate_cols=None) -> pd.DataFrame:
    """df with 'c' in ``cells`` ({(value of the ``key`` column, column)}), and in each rate of
    ``rate_cols`` ({rate: (numerator, denominator)}) built on one of them.

    >>> a = pd.DataFrame({"term": ["A", "B"], "n": [5, 7], "of": [10, 9], "rate": [.5, 7 / 9]})
    >>> hide_cells(a, "term", {("B", "n")}, {"rate": ("n", "of")}).to_dict("list")
    {'term': ['A', 'B'], 'n': [5, 'c'], 'of': [10, 9], 'rate': [0.5, 'c']}
    """
    cells = set(cells)
    out = df.copy()
    cols = {c for _, c in cells} | set(rate_cols or {})
    for c in cols:
        if c in out.columns:
            out[c] = out[c].astype(object)
    for i, k in enumerate(out[key].tolist()):
        for c in {c for kk, c in cells if kk == k}:
            if c in out.columns:
                out.iloc[i, out.columns.get_loc(c)] = SUPPRESSED
        for r, (num, den) in (rate_cols or {}).items():
            if r in out.columns and ((k, num) in cells or (k, den) in cells) and not _missing(out[r].iloc[i]):
                out.iloc[i, out.columns.get_loc(r)] = SUPPRESSED
    return out


def pinned_cells(lines: Sequence[Sequence], hidden: set) -> set:
    """The hidden cells whose value the shown ones fix, through any combination of the sums
    (each line: parts, then their total). Gaussian elimination over the hidden cells only: a
    cell is fixed when the reduced equations hold a row with that cell alone. This finds what
    one line at a time does not: A + B = 4 and C + D = 5 in two rows, A + B + C = 7 in a column
    give C = 3 and D = 2 (A and B stay unknown).

    >>> sorted(pinned_cells([["a", "b", "t1"], ["c", "d", "t2"], ["a", "b", "c", "t3"]], {"a", "b", "c", "d"}))
    ['c', 'd']
    >>> pinned_cells([["a", "b", "t1"], ["a", "b", "t2"]], {"a", "b"})
    set()
    """
    eps = 1e-9
    pivots: dict = {}
    for line in lines:
        row: dict = {}
        for cell in line[:-1]:
            if cell in hidden:
                row[cell] = row.get(cell, 0.0) + 1.0
        if line[-1] in hidden:
            row[line[-1]] = row.get(line[-1], 0.0) - 1.0
        for var in [v for v in row if v in pivots]:
            factor = row.get(var, 0.0)
            if abs(factor) > eps:
                for other, a in pivots[var].items():
                    row[other] = row.get(other, 0.0) - factor * a
        row = {v: a for v, a in row.items() if abs(a) > eps}
        if not row:
            continue
        pivot = max(row, key=lambda v: (abs(row[v]), repr(v)))
        scale = row[pivot]
        row = {v: a / scale for v, a in row.items()}
        for r in pivots.values():
            factor = r.get(pivot, 0.0)
            if abs(factor) > eps:
                for other, a in row.items():
                    r[other] = r.get(other, 0.0) - factor * a
                for v in [v for v, a in r.items() if abs(a) <= eps]:
                    del r[v]
        pivots[pivot] = row
    return {p for p, r in pivots.items() if len(r) == 1}
