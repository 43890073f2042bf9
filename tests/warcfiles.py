"""WARC files made at test time with the WARC library (FastWARC), one gzip member per
record as Common Crawl writes them: pages of the loopback newsroom plus the records a
real archive also holds (requests, metadata, images, other hosts, a truncated record)."""

from __future__ import annotations

import gzip
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import httpx
from fastwarc.warc import WarcRecord, WarcRecordType

CAPTURED = datetime(2026, 6, 6, 12, 0, tzinfo=timezone.utc)


def record(url: str, body: bytes, *, content_type: str = "text/html; charset=utf-8",
           kind: WarcRecordType = WarcRecordType.response, captured: datetime = CAPTURED,
           compress: bool = True, status: str = "200 OK") -> bytes:
    """One WARC record holding an HTTP response (or request) for ``url``."""
    rec = WarcRecord()
    rec.init_headers(kind)
    rec.headers["WARC-Target-URI"] = url
    rec.headers["WARC-Date"] = captured.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == WarcRecordType.request:
        http = f"GET {url} HTTP/1.1\r\nHost: example\r\n\r\n".encode()
        rec.headers["Content-Type"] = "application/http; msgtype=request"
    else:
        head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        http = head.encode() + body
        rec.headers["Content-Type"] = "application/http; msgtype=response"
    rec.set_bytes_content(http)
    out = io.BytesIO()
    rec.write(out, checksum_data=True)
    return gzip.compress(out.getvalue(), mtime=0) if compress else out.getvalue()


def write_warc(path: Path, records: Iterable[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(records))
    return path


def newsroom_pages(urls: Iterable[str]) -> list[tuple[str, bytes, str]]:
    """(final URL, body, Content-Type) of each page as the newsroom serves it (redirects
    followed, the body decompressed as an archive stores it)."""
    pages = []
    with httpx.Client(follow_redirects=True, trust_env=False, timeout=10) as client:
        for url in urls:
            reply = client.get(url)
            if reply.status_code == 200:
                pages.append((str(reply.url), reply.content, reply.headers.get("content-type", "")))
    return pages


def archive_of(pages: list[tuple], *, noise: bool = True, captured: datetime = CAPTURED) -> list[bytes]:
    """Records for ``pages`` ((url, body[, Content-Type])) with, when ``noise``, a request record before each, an image,
    a page of a host nobody asked for, an error page and a truncated record in between."""
    out: list[bytes] = []
    for i, (url, body, *content_type) in enumerate(pages):
        if noise:
            out.append(record(url, b"", kind=WarcRecordType.request))
        out.append(record(url, body, captured=captured, content_type=content_type[0] if content_type else
                          "text/html; charset=utf-8"))
        if noise and i == 1:
            out.append(record(url.rsplit("/", 1)[0] + "/logo.png", b"\x89PNG....", content_type="image/png"))
            out.append(record("http://unwanted.localhost/story.html", body))
            out.append(record(url + "?gone", b"<html><p>" + b"Not found. " * 40 + b"</p></html>", status="404 Not Found"))
            cut = record(url + "?cut", body)
            out.append(cut[: len(cut) // 2])  # a download cut short in the middle of the file
    return out
