"""HTTP only: one bounded, guarded GET.

What every request gets:
- a connect timeout and a *total* deadline (20 s feeds, 30 s pages), shared by every hop:
  each socket operation (connect, reading the headers, each body read) may take at most
  the time left, so no trickle of headers or body outlasts it;
- a body cap counted after decompression: we ask for gzip/deflate only, read the raw
  bytes and decompress them ourselves with ``max_length``, so a small compressed body can
  never expand past the cap in one step (a "zip bomb");
- an early reject when Content-Length already says the body is too large;
- at most ``max_redirects`` redirects, followed by hand so every hop is re-checked;
- the private-address guard: the host is resolved here, every address checked against the
  allow-list, and the connection made to the checked address itself (the network backend
  connects to the address pinned for this request, never resolving the name again), so
  DNS cannot answer differently between the check and the connect (DNS rebinding). The
  URL keeps the host name, so the connection pool is keyed by name: a kept-alive TLS
  connection opened (SNI, certificate check) for one host is never reused for another
  host that shares its address, as on a CDN;
- conditional GET with the stored ETag / Last-Modified (RFC 9110 §13);
- ``trust_env=False``: no proxy or netrc from the environment changes where we connect.
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from pipeline.acquire.hosts import HostSlots
from pipeline.errors import FetchError
from pipeline.models import FetchResult

MAX_URL_LENGTH = 2048
_URL_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_REDIRECTS = (301, 302, 303, 307, 308)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class HttpLimits:
    user_agent: str
    connect_timeout: float = 10.0
    deadline: float = 20.0
    max_body_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    allow_networks: tuple[IPNetwork, ...] = ()
    host_delay: float = 0.0  # seconds between two requests to the same host
    connections: int = 4  # kept-alive connections the client holds (one per host at a time)


@dataclass(frozen=True)
class Validators:
    """What we remember from the last 200 to make the next request conditional."""

    etag: str | None = None
    last_modified: str | None = None


def _transport(backend: httpcore.NetworkBackend, connections: int) -> httpx.HTTPTransport:
    """httpx's transport over our network backend. httpx has no parameter for the
    backend, so its connection pool is rebuilt with the same settings plus the backend.
    Idle connections are kept a minute so the next poll of a host reuses its connection."""
    transport = httpx.HTTPTransport(verify=_ssl_context(), trust_env=False, http2=False)
    transport._pool = httpcore.ConnectionPool(  # noqa: SLF001 (see the docstring)
        ssl_context=_ssl_context(), max_connections=connections,
        max_keepalive_connections=connections, keepalive_expiry=60.0, http1=True, http2=False,
        network_backend=backend)
    return transport


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle costs a third of a second: once per process, not per run."""
    return httpx.create_ssl_context(trust_env=False)


class Fetcher:
    """One httpx client for a run; ``get`` is the only way out to the network."""

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self._backend = _DeadlineBackend()
        self._hosts = HostSlots(limits.host_delay)
        self._client = httpx.Client(
            trust_env=False, follow_redirects=False, http2=False,
            headers={"User-Agent": limits.user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=_transport(self._backend, max(limits.connections, 1)),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, deadline: float | None = None, validators: Validators | None = None,
            accept: str | None = None) -> FetchResult:
        """GET ``url``, following redirects by hand, within one total deadline."""
        seconds = deadline or self.limits.deadline
        ends_at = time.monotonic() + seconds
        started = time.monotonic()
        current = url
        for hop in range(self.limits.max_redirects + 1):
            with self._hosts.slot(_host_key(current)) as waited:
                ends_at += waited  # the deadline counts from when the host is ours
                response_or_next = self._one_hop(url, current, ends_at, seconds, validators, accept)
            if isinstance(response_or_next, FetchResult):
                return _with_meta(response_or_next, url, hop, started)
            current = response_or_next
        raise FetchError(url, f"more than {self.limits.max_redirects} redirects", kind="redirects")

    def _one_hop(self, original: str, url: str, ends_at: float, seconds: float,
                 validators: Validators | None, accept: str | None) -> FetchResult | str:
        target, address = self._pinned_request(original, url)
        headers: dict[str, str] = {}
        if validators and url == original:
            headers.update(_conditional_headers(validators))
        if accept:
            headers["Accept"] = accept
        timeout = httpx.Timeout(connect=min(self.limits.connect_timeout, seconds),
                                read=seconds, write=seconds, pool=seconds)
        try:
            with self._backend.deadline(ends_at, address), \
                    self._client.stream("GET", target, headers=headers, timeout=timeout) as resp:
                return self._handle(original, url, resp, ends_at, seconds)
        except httpx.ConnectTimeout as exc:
            raise FetchError(original, f"timed out: no connection within {timeout.connect:g} s "
                             "(ConnectTimeout)", kind="timeout") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(original, f"timed out after {seconds:g} s ({type(exc).__name__})",
                             kind="timeout") from exc
        except httpx.RemoteProtocolError as exc:
            kind = "redirects" if "location" in str(exc).lower() else "network"
            raise FetchError(original, f"network error: {_reason(exc)}", kind=kind) from exc
        except httpx.HTTPError as exc:
            raise FetchError(original, f"network error: {_reason(exc)}", kind="network") from exc
        except (httpx.InvalidURL, UnicodeError) as exc:
            # Not HTTPErrors. Our own URL was checked above, so this is httpx reading the
            # Location of a redirect (data:, javascript:, mailto: ...), even unfollowed.
            raise FetchError(original, f"bad redirect: {_reason(exc)}", kind="redirects") from exc

    def _pinned_request(self, original: str, url: str) -> tuple[str, str]:
        """The URL to ask (user info dropped) and the checked address to connect to."""
        parts = _checked_url(original, url)
        host = parts.hostname or ""
        address = self._allowed_address(original, host, parts.port or _default_port(parts.scheme))
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), address

    def _allowed_address(self, original: str, host: str, port: int) -> str:
        addresses = resolve(original, host, port, self.limits.connect_timeout)
        allowed = [a for a in addresses if address_allowed(a, self.limits.allow_networks)]
        if not allowed:
            shown = ", ".join(str(a) for a in addresses[:3])
            raise FetchError(original, f"refused: {host} resolves to a non-public address ({shown})",
                             kind="blocked", transient=False,
                             remedy="add the network to [http] allow_networks if this is intended")
        return str(allowed[0])

    def _handle(self, original: str, url: str, resp: httpx.Response, ends_at: float,
                seconds: float) -> FetchResult | str:
        if resp.status_code in _REDIRECTS:
            location = resp.headers.get("location")
            if not location:
                raise FetchError(original, f"redirect {resp.status_code} without Location", kind="redirects")
            return urljoin(url, location.strip())
        if resp.status_code == 304:
            resp.read()  # a 304 has no body (RFC 9110 15.4.5); read to its end, the connection is reused
            return _result(url, resp, b"")
        if resp.status_code >= 400:
            raise FetchError(original, f"HTTP {resp.status_code} {resp.reason_phrase}".strip(), kind="http",
                             status=resp.status_code, retry_after=retry_after_seconds(resp.headers))
        self._reject_declared_size(original, resp)
        body = self._read_body(original, resp, ends_at, seconds)
        return _result(url, resp, body)

    def _reject_declared_size(self, original: str, resp: httpx.Response) -> None:
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limits.max_body_bytes:
            raise FetchError(original, f"body too large: Content-Length {int(declared)} bytes "
                             f"over the cap of {self.limits.max_body_bytes}", kind="too_large")

    def _read_body(self, original: str, resp: httpx.Response, ends_at: float, seconds: float) -> bytes:
        decoder = _decoder(resp.headers.get("content-encoding", ""), original)
        cap = self.limits.max_body_bytes
        out = bytearray()
        for chunk in _raw_chunks(resp, ends_at, original, seconds):
            out += decoder.feed(chunk, cap + 1 - len(out))
            if len(out) > cap:
                raise FetchError(original, f"body too large: over the cap of {cap} bytes after "
                                 "decompression", kind="too_large")
        out += decoder.flush(cap + 1 - len(out))
        if len(out) > cap:
            raise FetchError(original, f"body too large: over the cap of {cap} bytes after "
                             "decompression", kind="too_large")
        return bytes(out)


def _raw_chunks(resp: httpx.Response, ends_at: float, original: str, seconds: float) -> Iterator[bytes]:
    for chunk in resp.iter_raw(64 * 1024):
        if ends_at - time.monotonic() <= 0:
            raise FetchError(original, f"timed out: body not complete within {seconds:g} s", kind="timeout")
        yield chunk


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network layer with every socket operation (connect, TLS handshake, each
    read and write) capped by the time left before the deadline of the request this
    thread is making. httpx timeouts apply per operation, and httpcore fixes the read
    timeout once for all the reads of the headers, or of the body: a server trickling a
    byte at a time would otherwise never trip it."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self._local = threading.local()

    @contextmanager
    def deadline(self, ends_at: float, address: str) -> Iterator[None]:
        """This thread's request: its deadline, and the checked address it may connect to."""
        self._local.ends_at, self._local.address = ends_at, address
        try:
            yield
        finally:
            self._local.ends_at = self._local.address = None

    def cap(self, timeout: float | None) -> float | None:
        ends_at = getattr(self._local, "ends_at", None)
        if ends_at is None:
            return timeout
        left = max(0.001, ends_at - time.monotonic())
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        # The name in the URL is only the pool's key and the TLS server name: the socket
        # goes to the address the guard checked for this request, never to a new lookup.
        address = getattr(self._local, "address", None)
        if address is None:
            raise httpcore.ConnectError(f"no checked address for {host}: connection refused")
        stream = self._inner.connect_tcp(address, port, self.cap(timeout), local_address, socket_options)
        return _DeadlineStream(stream, self)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, backend: _DeadlineBackend) -> None:
        self._inner, self._backend = inner, backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._backend.cap(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._backend.cap(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, self._backend.cap(timeout))
        return _DeadlineStream(tls, self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Decoder:
    """Bounded decompression of gzip / deflate / identity bodies."""

    def __init__(self, wbits: int | None, url: str) -> None:
        self._url = url
        self._z = zlib.decompressobj(wbits) if wbits is not None else None
        self._pending = b""

    def feed(self, data: bytes, room: int) -> bytes:
        if self._z is None:
            return data
        try:
            out = self._z.decompress(self._pending + data, max(room, 1))
        except zlib.error as exc:
            raise FetchError(self._url, f"corrupt compressed body: {exc}", kind="network") from exc
        self._pending = self._z.unconsumed_tail
        return out

    def flush(self, room: int) -> bytes:
        if self._z is None:
            return b""
        out = bytearray()
        while self._pending and len(out) < room:
            out += self.feed(b"", room - len(out))
        return bytes(out)


def _decoder(encoding: str, url: str) -> _Decoder:
    enc = encoding.strip().lower()
    if enc in ("", "identity"):
        return _Decoder(None, url)
    if enc in ("gzip", "x-gzip"):
        return _Decoder(16 + zlib.MAX_WBITS, url)
    if enc == "deflate":
        return _Decoder(zlib.MAX_WBITS, url)  # RFC 9110 §8.4.1.2: zlib-wrapped
    raise FetchError(url, f"unsupported Content-Encoding {encoding!r}", kind="network")


def _result(url: str, resp: httpx.Response, body: bytes) -> FetchResult:
    return FetchResult(url=url, final_url=url, status=resp.status_code, body=body,
                       content_type=resp.headers.get("content-type"), etag=resp.headers.get("etag"),
                       last_modified=resp.headers.get("last-modified"), elapsed_ms=0,
                       headers=tuple(resp.headers.multi_items()),
                       request_headers=tuple(resp.request.headers.multi_items()),
                       http_version=resp.http_version or "HTTP/1.1")


def _with_meta(result: FetchResult, original: str, hops: int, started: float) -> FetchResult:
    return replace(result, url=original, final_url=result.url,
                   elapsed_ms=int((time.monotonic() - started) * 1000), redirects=hops)


def _conditional_headers(v: Validators) -> dict[str, str]:
    headers = {}
    if v.etag:
        headers["If-None-Match"] = v.etag
    if v.last_modified:
        headers["If-Modified-Since"] = v.last_modified
    return headers


def _checked_url(original: str, url: str) -> object:
    # A bad Location header is a bad redirect (kind "redirects", errors.py), not a bad
    # source URL: the configured URL was fine, the server sent us somewhere we won't go.
    kind, what = ("bad_url", "") if url == original else ("redirects", "redirect to ")
    if len(url) > MAX_URL_LENGTH:
        raise FetchError(original, f"{what}URL longer than {MAX_URL_LENGTH} characters", kind=kind)
    if _URL_CONTROLS.search(url):
        raise FetchError(original, f"{what}URL with control characters: {url[:200]!r}", kind=kind)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(original, f"{what}not an http(s) URL: {url[:200]}", kind=kind)
    try:
        parts.port
    except ValueError as exc:
        raise FetchError(original, f"{what}bad port in {url[:200]}", kind=kind) from exc
    return parts


def _host_key(url: str) -> str:
    """host:port a request goes to (a URL too bad to parse gets its own key; the hop
    refuses it a moment later with the reason)."""
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or _default_port(parts.scheme)}"
    except ValueError:
        return url[:200]


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


# getaddrinfo has no timeout of its own; it runs here so a hanging resolver costs at most
# the connect timeout (the lookup thread finishes on its own later).
_DNS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="newswatch-dns")


def resolve(url: str, host: str, port: int,
            timeout: float = 10.0) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """All addresses of ``host`` (an IP literal resolves to itself, without DNS)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    lookup = _DNS.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=timeout)
    except FutureTimeout as exc:
        raise FetchError(url, f"timed out: DNS lookup of {host} took longer than {timeout:g} s",
                         kind="timeout") from exc
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(url, f"network error: cannot resolve {host}: {exc}", kind="network") from exc
    seen: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if addr not in seen:
            seen.append(addr)
    return seen


def address_allowed(addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
                    allow: tuple[IPNetwork, ...]) -> bool:
    """Public (globally routable) addresses pass; anything else only when allow-listed."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if any(addr.version == net.version and addr in net for net in allow):
        return True
    return addr.is_global and not addr.is_multicast


def retry_after_seconds(headers: httpx.Headers, cap: float = 24 * 3600) -> float | None:
    """Retry-After as seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), capped."""
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return min(float(raw), cap)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, min((when - datetime.now(timezone.utc)).total_seconds(), cap))


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
