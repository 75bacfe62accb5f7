"""The project's own error types: every message is a sentence a non-programmer can act on."""
from __future__ import annotations


class APDataError(Exception):
    """Base of every error the product shows to a user (never a traceback)."""


class IngestError(APDataError):
    """A file (or sheet) that cannot be read or recognised; nothing from it is stored.

    >>> str(IngestError("No header row was found.", file="spring.csv", row=None))
    'spring.csv: No header row was found.'
    """

    def __init__(self, message: str, *, file: str | None = None, sheet: str | None = None,
                 row: int | None = None, column: str | None = None):
        self.message, self.file, self.sheet, self.row, self.column = message, file, sheet, row, column
        where = ", ".join(p for p in (
            file,
            f"sheet '{sheet}'" if sheet else None,
            f"row {row}" if row is not None else None,
            f"column '{column}'" if column else None,
        ) if p)
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(APDataError):
    """The store could not do what was asked (locked file, unknown upload, ...)."""


class StoreInUse(StoreError):
    """Another process holds the database file (DuckDB lets one process write to a file, and
    none read it meanwhile)."""


class PeriodError(APDataError):
    """A reporting period that is empty once capped at as_of."""
