"""The few things the analytics jobs write differently for PostgreSQL and SQLite."""

import datetime
import sqlite3
from decimal import Decimal

from django.db import connection


class VendorSql:
    """Spellings for the connection's database: dates as parameters, day differences, casts, limits."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"
        self.false = "FALSE" if self.postgres else "0"

    def date(self, name: str) -> str:
        """The named parameter `name` as a date."""
        return f"CAST(%({name})s AS date)" if self.postgres else f"%({name})s"

    def date_value(self, day: datetime.date) -> object:
        return day if self.postgres else day.isoformat()

    def number(self, value: Decimal) -> object:
        # Exact numeric on PostgreSQL; SQLite stores decimals as floating point anyway.
        return value if self.postgres else float(value)

    def days(self, later: str, earlier: str) -> str:
        """Whole days from date `earlier` to date `later`."""
        if self.postgres:
            return f"({later} - {earlier})"
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    def cast(self, kind: str) -> str:
        return {
            "float": "double precision" if self.postgres else "REAL",
            "json": "jsonb" if self.postgres else "TEXT",
            "money": "numeric",
        }[kind]

    def rows_per_statement(self, columns: int, chunk: int) -> int:
        """Rows of `columns` parameters each that one statement may carry, at most `chunk`."""
        if self.postgres:
            return chunk
        try:
            limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except (AttributeError, sqlite3.Error):
            limit = 999
        return max(1, min(chunk, limit // columns))
