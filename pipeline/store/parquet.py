"""Parquet files written and merged with an in-memory DuckDB: backfill workers use it
without ever opening the warehouse, and no pyarrow is needed."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Sequence

import duckdb

_LIST_TYPES = {"minhash": "UBIGINT[]", "bands": "BIGINT[]", "url_keys": "VARCHAR[]"}


def write_partitioned(folder: Path, name: str, rows: list[dict[str, Any]],
                      by: Sequence[str] = ("source", "month")) -> list[Path]:
    """``rows`` as hive-partitioned Parquet under ``folder`` (``by`` columns become folder
    names), files called ``<name>_<i>.parquet``, so writing the same rows again replaces
    them. One statement builds the table from column lists."""
    cols = list(rows[0])
    con = _memory()
    try:
        select = ", ".join(f"unnest(?::{_sql_type(c, rows)}) AS \"{c}\"" for c in cols)
        con.execute(f"CREATE TABLE t AS SELECT {select}", [[_plain(r[c]) for r in rows] for c in cols])
        for col in by:  # folder names: keep them path-safe
            con.execute(f"UPDATE t SET \"{col}\" = regexp_replace(coalesce(\"{col}\", 'unknown'), "
                        "'[^A-Za-z0-9.-]+', '-', 'g')")
        con.execute(f"COPY t TO '{quote(folder)}' (FORMAT parquet, PARTITION_BY ({', '.join(by)}), "
                    f"FILENAME_PATTERN '{name}_{{i}}', OVERWRITE_OR_IGNORE)")
    finally:
        con.close()
    return sorted(folder.rglob("*.parquet"))


def merge_files(inputs: Sequence[Path], output: Path) -> None:
    """Concatenate Parquet files (columns matched by name) into one."""
    files = ", ".join(f"'{quote(p)}'" for p in inputs)
    con = _memory()
    try:
        con.execute(f"COPY (SELECT * FROM read_parquet([{files}], union_by_name = true, "
                    f"hive_partitioning = false)) TO '{quote(output)}' (FORMAT parquet)")
    finally:
        con.close()


def read_rows(glob: str, sql_where: str = "TRUE") -> tuple[list[str], list[tuple]]:
    """Rows of Parquet files read in place (hive partition columns included)."""
    con = _memory()
    try:
        cur = con.execute(f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true, "
                          f"union_by_name = true) WHERE {sql_where}")
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        con.close()


def _memory() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _sql_type(col: str, rows: list[dict[str, Any]]) -> str:
    if col in _LIST_TYPES:
        return _LIST_TYPES[col] + "[]"
    sample = next((r[col] for r in rows if r[col] is not None), None)
    kind = ("BOOLEAN" if isinstance(sample, bool) else "BIGINT" if isinstance(sample, int)
            else "DOUBLE" if isinstance(sample, float) else "TIMESTAMPTZ" if isinstance(sample, datetime)
            else "DATE" if isinstance(sample, date) else "VARCHAR[]" if isinstance(sample, (list, tuple))
            else "VARCHAR")
    return kind + "[]"


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def quote(path: Path | str) -> str:
    """A path as the inside of a SQL string literal."""
    return str(path).replace("'", "''")
