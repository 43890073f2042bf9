"""Stream the HTML pages out of a WARC file (ISO 28500), skipping what is not wanted
before its body is read.

FastWARC (C++, the reader of the ChatNoir / Resiliparse project) parses the WARC
headers, filters on them in ``func_filter`` and skips the bodies of records it drops; only ``response`` records of wanted hosts and capture dates are parsed further,
and only HTML ones have their body read. Per-record gzip (``.warc.gz``), whole-file gzip
and plain WARC are all detected from the bytes.

A truncated or garbled record never stops the file: the reader counts it and resumes at
the next record start it can find (the next gzip member or ``WARC/1.x`` line).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, Iterator
from urllib.parse import urlsplit

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

HTML_TYPES = ("text/html", "application/xhtml+xml")
_STARTS = (b"\x1f\x8b\x08", b"WARC/1.")  # a gzip member, an uncompressed record
_SCAN_CHUNK = 1 << 20
MAX_BODY_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True)
class WarcPage:
    """One HTML response as the archive recorded it."""

    url: str
    host: str
    captured: datetime  # WARC-Date, aware UTC
    record_id: str
    offset: int  # where the record (its gzip member) starts in the file
    headers: tuple[tuple[str, str], ...]  # the HTTP response headers
    body: bytes


@dataclass
class ReadStats:
    """What reading one file met, for progress and the summary."""

    records: int = 0      # response records whose headers passed the host and date filter
    pages: int = 0        # of those, HTML with a body: handed on
    not_html: int = 0
    not_ok: int = 0       # HTML, but not a 2xx answer (a redirect, an error page)
    unreadable: int = 0   # truncated or garbled stretches skipped
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PageFilter:
    """Which records are wanted: hosts (None: any), capture dates [since, until)."""

    hosts: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def wants_host(self, host: str) -> bool:
        if self.hosts is None:
            return True
        parts = host.split(".")  # a listed domain covers its subdomains
        return any(".".join(parts[i:]) in self.hosts for i in range(len(parts)))

    def wants_date(self, when: datetime | None) -> bool:
        if when is None:
            return self.since is None and self.until is None
        return (self.since is None or when >= self.since) and (self.until is None or when < self.until)


def read_hosts(path: Path) -> frozenset[str]:
    """One host or domain per line; ``#`` starts a comment."""
    lines = (line.split("#", 1)[0].strip().lower() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(line.removeprefix("www.") for line in lines if line)


def iter_pages(path: Path, wanted: PageFilter, stats: ReadStats, *,
               max_body: int = MAX_BODY_BYTES) -> Iterator[WarcPage]:
    """Every wanted HTML page of the file at ``path``, in file order."""
    with open(path, "rb") as stream:
        start = 0
        while start is not None:
            start = yield from _read_from(stream, start, wanted, stats, max_body)


def _read_from(stream: BinaryIO, start: int, wanted: PageFilter, stats: ReadStats,
               max_body: int) -> Iterator[WarcPage]:
    """Pages from ``start`` on; returns where to look on (after a bad stretch, or a quiet
    end that may not be the file's), or None at the end of the file."""
    stream.seek(start)
    seen = [-1]  # the last record start met, wanted or not: a resync goes on after it
    try:
        # stream_pos is the record's offset in the file (FastWARC asks the stream where it
        # is), so it points at the record's gzip member: the page archive's reader seeks there.
        records = ArchiveIterator(stream, parse_http=False, func_filter=_header_filter(wanted, seen),
                                  fsspec_args=False)
        for record in records:
            page = _page(record, stats, max_body, record.stream_pos)
            if page is not None:
                yield page
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        if seen[0] >= 0 or start == 0:  # else: still the bad stretch met before the resync
            stats.unreadable += 1
            stats.errors.append(f"{getattr(stream, 'name', 'stream')} after byte {max(seen[0], start)}: {exc}")
        return _next_start(stream, max(seen[0], start) + 1)
    # A gzip member cut short can also end the iteration quietly, as if the file ended
    # there: a record start after the last record met (of any type) means it did.
    resume = _next_start(stream, max(seen[0], start) + 1)
    if resume is not None:
        stats.unreadable += 1
        stats.errors.append(f"{getattr(stream, 'name', 'stream')} after byte {max(seen[0], start)}: "
                            f"reading stopped early; resumed at byte {resume}")
    return resume


def _header_filter(wanted: PageFilter, seen: list[int]) -> Callable[[WarcRecord], bool]:
    def keep(record: WarcRecord) -> bool:
        seen[0] = record.stream_pos
        if record.record_type != WarcRecordType.response:
            return False
        host = _host(record.headers.get("WARC-Target-URI") or "")
        return bool(host) and wanted.wants_host(host) and wanted.wants_date(_utc(record.record_date))
    return keep


def _page(record: WarcRecord, stats: ReadStats, max_body: int, offset: int) -> WarcPage | None:
    stats.records += 1
    record.parse_http(auto_decode="all")
    ctype = (record.http_content_type or "").lower()
    if not ctype.startswith(HTML_TYPES):
        stats.not_html += 1
        return None
    if not 200 <= (record.http_headers.status_code or 0) < 300:
        stats.not_ok += 1
        return None
    body = record.reader.read(max_body)
    url = record.headers.get("WARC-Target-URI") or ""
    stats.pages += 1
    return WarcPage(url=url, host=_host(url), captured=_utc(record.record_date) or _epoch(),
                    record_id=record.record_id or f"offset:{offset}", offset=offset,
                    headers=tuple((k, v) for k, v in record.http_headers.items()), body=body)


def _next_start(stream: BinaryIO, pos: int) -> int | None:
    """The next offset at or after ``pos`` where a record could start."""
    stream.seek(pos)
    while True:
        chunk = stream.read(_SCAN_CHUNK + 8)
        if not chunk:
            return None
        hits = [i for i in (chunk.find(m) for m in _STARTS) if i >= 0]
        if hits:
            return pos + min(hits)
        if len(chunk) <= 8:
            return None
        pos += _SCAN_CHUNK
        stream.seek(pos)


def _host(url: str) -> str:
    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, timezone.utc)


def warc_paths(args: list[str]) -> list[Path]:
    """WARC files named on the command line; a name ending in .txt or .lst is a list of
    paths, one a line (relative to the list's folder)."""
    found: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.suffix in (".txt", ".lst"):
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
            found += [path.parent / ln for ln in lines if ln and not ln.startswith("#")]
        else:
            found.append(path)
    return [Path(os.path.abspath(p)) for p in found]
