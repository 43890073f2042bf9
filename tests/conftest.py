"""Shared fixtures of the integration tests: the loopback newsroom, a configuration
written for it, the real ``newswatch`` command run as a subprocess, and read-only looks
into the DuckDB warehouse it writes.

Everything connects to 127.0.0.1 only. The command runs with ``cwd`` set to a temporary
folder and ``NEWSWATCH_CONFIG`` naming the configuration, the way cron runs it, with every
proxy variable removed from its environment (tests that want them add them back).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
from newsroom import Newsroom, toml_value

NEWSWATCH = (sys.executable, "-m", "pipeline.cli")
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
# Tables that grow on every run by design; every other table must not change on a rerun.
GROWING_TABLES = ("runs", "fetch_log")


# ---------------------------------------------------------------- the command


def cli_env(config: Path | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``newswatch`` subprocess: ours without proxies or newswatch
    settings, plus NEWSWATCH_CONFIG and ``extra``."""
    drop = {v.lower() for v in PROXY_VARS} | {"newswatch_config", "newswatch_smtp_password"}
    env = {k: v for k, v in os.environ.items() if k.lower() not in drop}
    if config is not None:
        env["NEWSWATCH_CONFIG"] = str(config)
    env.update(extra or {})
    return env


def newswatch(args: Sequence[str], *, config: Path | None, cwd: Path,
              env: Mapping[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real command line and wait for it."""
    return subprocess.run([*NEWSWATCH, *args], cwd=cwd, env=cli_env(config, env),
                          capture_output=True, text=True, timeout=timeout)


def start_newswatch(args: Sequence[str], *, config: Path | None, cwd: Path,
                    env: Mapping[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
    """Start the real command line without waiting (for kills, signals and daemons)."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([*NEWSWATCH, *args], cwd=cwd, env=cli_env(config, env), text=True, **popen)


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Site:
    """A configuration written for a newsroom, and where its warehouse goes."""

    room: Newsroom
    config: Path
    warehouse: Path
    cwd: Path  # somewhere else than the config folder: paths must not depend on it

    def run(self, *args: str, env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return newswatch(args, config=self.config, cwd=self.cwd, env=env, timeout=timeout)


def make_site(room: Newsroom, tmp: Path, **write_config: Any) -> Site:
    cwd = tmp / "elsewhere"
    cwd.mkdir(parents=True, exist_ok=True)
    config = room.write_config(tmp / "config", tmp / "warehouse" / "newswatch.duckdb", **write_config)
    return Site(room, config, tmp / "warehouse" / "newswatch.duckdb", cwd)


def set_setting(config: Path, section: str, key: str, value: Any) -> None:
    """Change one key of newswatch.toml (the file write_config wrote)."""
    path = config / "newswatch.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    current, out, done = None, [], False
    for line in lines:
        if line.startswith("["):
            current = line.strip("[] ")
        if current == section and line.split("=")[0].strip() == key:
            line, done = f"{key} = {toml_value(value)}", True
        out.append(line)
    assert done, f"{section}.{key} not in {path}"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def rewrite_sources(config: Path, order: Sequence[str] | None = None,
                    extra: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """Rewrite sources.toml keeping only (and in the order of) ``order``, plus ``extra``
    sources at the front; returns the source ids written."""
    path = config / "sources.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    by_id = {s["id"]: s for s in doc.get("source", [])}
    chosen = [dict(s) for s in extra] + [by_id[i] for i in (order if order is not None else by_id)]
    lines = []
    for table, rows in (("outlet", doc.get("outlet", [])), ("source", chosen)):
        for row in rows:
            lines.append(f"[[{table}]]")
            lines += [f"{k} = {toml_value(v)}" for k, v in row.items()]
            lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return [s["id"] for s in chosen]


# ---------------------------------------------------------------- the warehouse


@contextmanager
def read_only(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        yield con
    finally:
        con.close()


def rows(warehouse: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    with read_only(warehouse) as con:
        return con.execute(sql, list(params)).fetchall()


def base_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        "ORDER BY 1").fetchall()]


def row_counts(warehouse: Path) -> dict[str, int]:
    """Rows of every table of the warehouse (views left out)."""
    with read_only(warehouse) as con:
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in base_tables(con)}


def table_contents(warehouse: Path, tables: Sequence[str]) -> dict[str, list[tuple]]:
    """Every row of ``tables``, sorted, for before/after comparisons."""
    with read_only(warehouse) as con:
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}


# ---------------------------------------------------------------- a recording server


class Recorder:
    """A loopback HTTP server that records every request and answers 200 "recorded".
    Stands in for a proxy (which must never be used) or for a second host. ``keep_alive``:
    HTTP/1.1 connections kept open, and ``peers`` records each request's client port (which
    connection it came on)."""

    def __init__(self, host: str = "127.0.0.1", keep_alive: bool = False) -> None:
        recorded: list[tuple[str, str, dict[str, str]]] = []
        peers: list[int] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def _any(self) -> None:
                recorded.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                peers.append(self.client_address[1])
                body = b"recorded\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                if not keep_alive:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_CONNECT = do_HEAD = _any  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

        self.requests, self.peers = recorded, peers
        self._server = Server((host, 0), Handler)
        self.host, self.port = host, self._server.server_address[1]
        self.url = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# ---------------------------------------------------------------- fixtures


@pytest.fixture()
def room() -> Iterator[Newsroom]:
    """A fresh newsroom per test (building one takes milliseconds)."""
    with Newsroom() as served:
        yield served


@pytest.fixture()
def site(room: Newsroom, tmp_path: Path) -> Site:
    """A configuration for ``room`` in tmp_path (loopback allowed, short deadlines)."""
    return make_site(room, tmp_path)


@pytest.fixture()
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_cli(args, config=..., cwd=..., env=...)``: the real command, waited for."""
    return newswatch
