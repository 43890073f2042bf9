"""What every command family shares: exit codes and how rows are printed."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
from datetime import date, datetime, timezone
from typing import Any

from pipeline.config import (
    ENV_CONFIG,
    Settings,
)
from pipeline.errors import StoreError
from pipeline.store.hygiene import escape_controls

EXIT_OK, EXIT_INTERNAL, EXIT_CONFIG, EXIT_LOCKED, EXIT_STORE, EXIT_STRICT = 0, 1, 2, 3, 4, 5
EXIT_UNDELIVERED = 6  # digest --send: a digest was not delivered
_JSON_CONTROLS = re.compile(r"[\x7f-\x9f]")  # DEL and C1: json.dumps escapes only C0

EPILOG = (f"Configuration folder: --config DIR, else ${ENV_CONFIG}, else ./config.\n"
          "Exit codes: 0 done, 1 internal error, 2 usage/config error, 3 warehouse locked by "
          "another job,\n4 warehouse error, 5 --strict and a source failed, 6 digest not delivered.")



def output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")


def print_query(settings: Settings, sql: str, fmt: str) -> int:
    import duckdb

    from pipeline.store import open_reader

    store = open_reader(settings.warehouse_path, settings.warehouse_memory_limit)
    try:
        cols, rows = store.query(sql)
    except duckdb.Error as exc:
        raise StoreError(f"query failed: {str(exc).splitlines()[0]}",
                         remedy="the warehouse is read-only here; list tables with "
                                "\"select table_name, table_type from information_schema.tables\"") from exc
    finally:
        store.close()
    print(render_rows(cols, rows, fmt))
    return EXIT_OK


def render_rows(cols: list[str], rows: list[tuple], fmt: str) -> str:
    """Rows as text for a terminal or a pipe; no control character is written raw (a
    warehouse filled before the hygiene of issue 10 may hold some)."""
    if fmt == "json":
        text = json.dumps([dict(zip(cols, r)) for r in rows], default=_json_value, indent=2, ensure_ascii=False)
        return _JSON_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)  # JSON escapes C0 itself
    cols = [escape_controls(c) for c in cols]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        writer.writerows([[_cell(v) for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    return _table(cols, rows)


def _json_value(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (date, datetime)) else str(v)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if v.tzinfo else str(v)
    return escape_controls(" ".join(str(v).split()))


def _table(cols: list[str], rows: list[tuple], width: int = 60) -> str:
    cells = [[_cell(v)[:width] for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()
    out = [line(cols), line(["-" * w for w in widths])] + [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


