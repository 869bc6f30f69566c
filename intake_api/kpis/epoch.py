"""Timestamps as exact integers in SQL: microseconds since the epoch, so that the KPIs can
subtract and compare times in the database and read plain integers instead of parsing one
datetime per row (SQLite keeps `YYYY-MM-DD HH:MM:SS.ffffff` text, PostgreSQL `timestamptz`)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

MICROSECOND = timedelta(microseconds=1)
# SQLite 3.38 added `unixepoch()`: the same whole seconds as `strftime('%s')`, about a third
# cheaper per row, which counts over a dashboard's hundreds of thousands of timestamps
_SQLITE_SECONDS = "unixepoch" if sqlite3.sqlite_version_info >= (3, 38) else None


def micros(span: timedelta) -> int:
    """A duration in whole microseconds (the unit `epoch_us` counts in)."""
    return span // MICROSECOND


class epoch_us(FunctionElement[int]):  # noqa: N801 - reads as the SQL function it renders
    """Microseconds since 1970-01-01 UTC of a timestamp column, exact (NULL stays NULL)."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_us"


@compiles(epoch_us, "sqlite")
def _sqlite(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # whole seconds from the text without its fraction (SQLite would round that to ms)
    moment = compiler.process(element.clauses, **kw)
    seconds = (
        f"{_SQLITE_SECONDS}(substr({moment}, 1, 19))"
        if _SQLITE_SECONDS
        else f"CAST(strftime('%s', substr({moment}, 1, 19)) AS INTEGER)"
    )
    return f"({seconds} * 1000000 + CAST(substr({moment}, 21, 6) AS INTEGER))"


@compiles(epoch_us, "postgresql")
def _postgresql(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(EPOCH FROM {moment}) * 1000000 AS BIGINT)"


class shifted(FunctionElement[Any]):  # noqa: N801 - reads as the SQL function it renders
    """A timestamp column moved by a whole number of seconds, in the column's own form (SQLite's
    text keeps its microseconds), so it compares with other timestamps and their indexes."""

    inherit_cache = True
    name = "shifted"

    def __init__(self, moment: Any, span: timedelta) -> None:
        if span % timedelta(seconds=1):
            raise ValueError(f"shifted() moves by whole seconds, not {span}")
        super().__init__(moment, literal(int(span.total_seconds())))


def _parts(element: shifted, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    moment, seconds = element.clauses.clauses
    return compiler.process(moment, **kw), compiler.process(seconds, **kw)


@compiles(shifted, "sqlite")
def _sqlite_shifted(element: shifted, compiler: SQLCompiler, **kw: Any) -> str:
    moment, seconds = _parts(element, compiler, **kw)
    return f"(datetime(substr({moment}, 1, 19), {seconds} || ' seconds') || substr({moment}, 20))"


@compiles(shifted, "postgresql")
def _postgresql_shifted(element: shifted, compiler: SQLCompiler, **kw: Any) -> str:
    moment, seconds = _parts(element, compiler, **kw)
    return f"({moment} + {seconds} * INTERVAL '1 second')"
