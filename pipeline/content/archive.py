"""The page archive: every fetched article page in rotating, gzip-compressed WARC files.

Written with warcio (WARC 1.0 / ISO 28500; chosen over FastWARC because it writes as well
as reads, is pure Python with one small dependency, and our volume is a few thousand
records a run: see docs/design.md). Files live in ``<warehouse folder>/archive/`` and are
named ``newswatch-<UTC time>-<pid>-<n>.warc.gz``; a file is never reopened for appending
(one set of files per writer process), and a new file starts past ``max_bytes``. Each
record is its own gzip member, so a record is read from its offset alone.

Per page: a ``response`` record (the final URL; status line and headers as received, less
Content-Encoding / Transfer-Encoding since the payload is the decoded body, with a
Content-Length that matches it) and a ``request`` record (the GET and the headers sent),
linked by WARC-Concurrent-To. The article row records the file name and the response
record's offset.

Stable API (also used by the CC-NEWS backfill, issue 13):
- ``PageArchive(folder, max_bytes=...)``: ``.write(FetchResult) -> ArchiveRef``,
  ``.close()``; a context manager.
- ``iter_responses(path) -> Iterator[ArchivedResponse]``: every response record of a WARC
  file (ours or any other, .warc or .warc.gz): url, status, headers, body, date, offset.
- ``read_response(path, offset) -> ArchivedResponse``: the one record at ``offset``.
- ``ArchivedResponse.headers`` is a dict with lower-cased names, ready for
  ``content.extract.extract_page(body, url, headers, feed_date, feed_title)``.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.models import FetchResult

MAX_FILE_BYTES = 256 * 2**20  # rotate past this (compressed) size
# zlib level of each record's gzip member. Measured on the 181 real pages of
# ../shared/eval/aeb (174 KiB each): level 9 (warcio's) 8.5 ms a page, 4 3.6 ms for
# 5.6 % more bytes, 1 2.0 ms for 19.5 % more. Compression runs in the writer process,
# on the cores extraction needs (issue 12).
GZIP_LEVEL = 4
_DROPPED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class ArchiveRef:
    file: str  # name inside the archive folder
    offset: int  # of the response record


@dataclass(frozen=True)
class ArchivedResponse:
    url: str
    status: int
    headers: dict[str, str]  # lower-cased names; the last value of a repeated header
    body: bytes
    date: datetime | None  # WARC-Date: when the page was fetched
    offset: int
    path: Path


class PageArchive:
    """Writes fetched pages; one open file at a time, rotated by size. Thread-safe:
    sources polled side by side (issue 12) write one record pair at a time."""

    def __init__(self, folder: Path, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._file: BinaryIO | None = None
        self._name = ""
        self._count = 0
        self._lock = threading.Lock()

    def write(self, page: FetchResult) -> ArchiveRef:
        with self._lock:
            return self._write(page)

    def _write(self, page: FetchResult) -> ArchiveRef:
        out = self._open()
        writer = WARCWriter(BytesIO(), gzip=False)  # records are compressed here (_member)
        response = _response_record(writer, page)
        request = _request_record(writer, page, response.rec_headers.get_header("WARC-Record-ID"))
        offset = out.tell()
        out.write(_member(writer, response) + _member(writer, request))
        out.flush()  # the article row naming this offset is committed after this returns
        return ArchiveRef(self._name, offset)

    def _open(self) -> BinaryIO:
        if self._file is not None and self._file.tell() < self.max_bytes:
            return self._file
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        while self._file is None:  # two runs of one process within a second: the next number
            self._count += 1
            self._name = f"newswatch-{stamp}-{os.getpid()}-{self._count:05d}.warc.gz"
            try:
                self._file = open(self.folder / self._name, "xb")
            except FileExistsError:
                continue
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> PageArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _member(writer: WARCWriter, record) -> bytes:  # noqa: ANN001 (a warcio record)
    """One record as its own gzip member, at ``GZIP_LEVEL`` (warcio's own gzip writer
    always uses level 9)."""
    writer.out = BytesIO()
    writer.write_record(record)
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return packer.compress(writer.out.getvalue()) + packer.flush()


def _response_record(writer: WARCWriter, page: FetchResult):
    headers = [(k, v) for k, v in page.headers if k.lower() not in _DROPPED_HEADERS]
    headers.append(("Content-Length", str(len(page.body))))
    status = StatusAndHeaders(f"{page.status} {_reason(page.status)}", headers,
                              protocol=page.http_version or "HTTP/1.1")
    return writer.create_warc_record(page.final_url, "response", payload=BytesIO(page.body),
                                     length=len(page.body), http_headers=status)


def _request_record(writer: WARCWriter, page: FetchResult, response_id: str):
    parts = urlsplit(page.final_url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    status = StatusAndHeaders(f"GET {target} {page.http_version or 'HTTP/1.1'}",
                              list(page.request_headers), is_http_request=True)
    return writer.create_warc_record(page.final_url, "request", payload=BytesIO(b""), length=0,
                                     http_headers=status,
                                     warc_headers_dict={"WARC-Concurrent-To": response_id})


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def iter_responses(path: Path | str) -> Iterator[ArchivedResponse]:
    """Every response record of a WARC file, in file order."""
    with open(path, "rb") as stream:
        records = ArchiveIterator(stream)
        for record in records:
            if record.rec_type == "response":
                found = _archived(record, -1, Path(path))  # the body first: asking the offset ends the record
                yield replace(found, offset=records.get_record_offset())


def read_response(path: Path | str, offset: int) -> ArchivedResponse:
    """The response record at ``offset`` of a WARC file."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                return _archived(record, offset, Path(path))
            break
    raise ValueError(f"{path}: no response record at offset {offset}")


def _archived(record, offset: int, path: Path) -> ArchivedResponse:
    http = record.http_headers
    status = int((http.get_statuscode() if http else "0") or 0)
    headers = {k.lower(): v for k, v in (http.headers if http else [])}
    return ArchivedResponse(url=record.rec_headers.get_header("WARC-Target-URI") or "", status=status,
                            headers=headers, body=record.content_stream().read(),
                            date=_warc_date(record.rec_headers.get_header("WARC-Date")),
                            offset=offset, path=path)


def _warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None
