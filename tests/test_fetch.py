"""fetch: every request bounded and guarded, tested against real servers on loopback.

Most tests drive ``pipeline.fetch.Fetcher`` in-process against the newsroom and its trap
routes; the address guard is also tested through the real ``newswatch run`` command.
Only 127.0.0.1, ::1 and "localhost" are ever connected to.
"""

from __future__ import annotations

import gzip
import ipaddress
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from conftest import Recorder, Site, make_site, rows
from newsroom import HUGE_LENGTH, TRAPS, Newsroom

from pipeline.acquire.fetch import Fetcher, HttpLimits, Validators
from pipeline.errors import FetchError

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
UA = "newswatch-fetch-tests/1.0 (+http://127.0.0.1/)"


@pytest.fixture(scope="module")
def news() -> Iterator[Newsroom]:
    with Newsroom() as served:
        yield served


def fetcher(**limits: object) -> Fetcher:
    base = HttpLimits(user_agent=UA, connect_timeout=1.0, deadline=3.0, allow_networks=LOOPBACK)
    return Fetcher(replace(base, **limits))  # type: ignore[arg-type]


def failure(f: Fetcher, url: str, **kw: object) -> FetchError:
    with pytest.raises(FetchError) as caught:
        f.get(url, **kw)  # type: ignore[arg-type]
    return caught.value


# ---------------------------------------------------------------- identity, validators


def test_every_request_names_newswatch_and_asks_only_for_bounded_encodings(news: Newsroom) -> None:
    feed = news.feed("daily-circuit-all")
    with fetcher() as f:
        result = f.get(news.url(feed.path))
    seen = news.requests_for(feed.path)[-1]
    assert seen.headers["user-agent"] == UA
    # Only codings we decompress ourselves, with a bound (no br/zstd decoders behind our back).
    assert {c.strip() for c in seen.headers["accept-encoding"].split(",")} == {"gzip", "deflate"}
    assert result.status == 200 and result.body == news.route(feed.path).body


def test_conditional_get_sends_stored_validators_and_takes_304(news: Newsroom) -> None:
    feed = news.feed("daily-circuit-ai")
    with fetcher() as f:
        first = f.get(news.url(feed.path))
        assert first.etag and first.last_modified
        again = f.get(news.url(feed.path), validators=Validators(first.etag, first.last_modified))
    asked = news.requests_for(feed.path)[-1].headers
    assert asked["if-none-match"] == first.etag
    assert asked["if-modified-since"] == first.last_modified
    assert again.status == 304 and again.not_modified and again.body == b""


# ---------------------------------------------------------------- deadlines


def test_stalled_server_fails_at_the_deadline(news: Newsroom) -> None:
    with fetcher(deadline=0.5) as f:
        error = failure(f, news.url(TRAPS["stall"]))
    assert error.kind == "timeout" and error.transient


def test_dripping_body_fails_at_the_total_deadline_though_each_read_is_quick(news: Newsroom) -> None:
    """The drip trap sends 16 bytes every 0.25 s: no single read waits longer than the
    deadline, so only a *total* deadline stops it (the whole body takes about 10 s)."""
    with fetcher(deadline=1.0) as f:
        error = failure(f, news.url(TRAPS["drip"]))
    assert error.kind == "timeout"
    # The client gave up mid-body: the server never finished sending it.
    assert news.requests_for(TRAPS["drip"])[-1].finished is None


@pytest.fixture()
def slow_headers() -> Iterator[tuple[str, dict[str, bool]]]:
    """A raw server that trickles its status line and headers, 8 bytes every 0.1 s (about
    six seconds in all); records whether it got to the end of them."""
    srv = socket.create_server(("127.0.0.1", 0))
    stop, state = threading.Event(), {"headers_sent": False}
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            + b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"y" * 6) for i in range(25))
            + b"Content-Length: 2\r\n\r\nok")

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(65536)
            try:
                for i in range(0, len(head) - 4, 8):
                    if stop.wait(0.1):
                        return
                    conn.sendall(head[i:i + 8])
                state["headers_sent"] = True
                conn.sendall(head[i + 8:])
            except OSError:
                return  # the client hung up: what a deadline should make it do

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/slow", state
    finally:
        stop.set()
        srv.close()
        thread.join(timeout=5)


def test_trickled_headers_cannot_outlast_the_deadline(slow_headers: tuple[str, dict[str, bool]]) -> None:
    url, state = slow_headers
    with fetcher(deadline=0.5) as f:
        error = failure(f, url)
    assert error.kind == "timeout"
    time.sleep(0.3)  # let the server notice the hang-up
    assert not state["headers_sent"], "the client kept reading headers past its deadline"


def test_connect_timeout_applies_before_the_total_deadline() -> None:
    """A listener whose accept queue is full drops SYNs, so connecting hangs. The error
    must come from the 0.3 s connect timeout, not from the 30 s total deadline."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port, fillers = srv.getsockname()[1], []
    try:
        for _ in range(3):  # fill the accept queue (nobody ever accepts)
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        started = time.monotonic()
        with fetcher(connect_timeout=0.3, deadline=30.0) as f:
            error = failure(f, f"http://127.0.0.1:{port}/")
        waited = time.monotonic() - started
    finally:
        for c in fillers:
            c.close()
        srv.close()
    assert error.kind == "timeout" and "ConnectTimeout" in str(error)
    assert waited < 15, "waited for the total deadline instead of the connect timeout"


# ---------------------------------------------------------------- body size


def test_body_cap_counts_decompressed_bytes(news: Newsroom) -> None:
    """A gzip page whose compressed size is under the cap but whose text is over it."""
    article = news.article("dc-successors-hype")
    page = news.route(article.path).body
    packed = len(gzip.compress(page, mtime=0))
    cap = (packed + len(page)) // 2
    assert packed < cap < len(page)
    with fetcher() as f:
        whole = f.get(news.url(article.path))
        assert whole.body == page  # decompressed by us, byte for byte
        with fetcher(max_body_bytes=cap) as capped:
            error = failure(capped, news.url(article.path))
    assert "gzip" in news.requests_for(article.path)[-1].headers["accept-encoding"]
    assert error.kind == "too_large" and "decompression" in str(error)


def test_gzip_bomb_is_stopped_at_the_cap(news: Newsroom) -> None:
    with fetcher() as f:  # the default 15 MiB cap; the bomb inflates to 32 MiB
        error = failure(f, news.url(TRAPS["bomb"]))
    assert error.kind == "too_large" and "decompression" in str(error)


def test_decompression_itself_is_bounded(news: Newsroom) -> None:
    """With a 1 MiB cap, inflating the 32 MiB bomb must never hold much more than the cap:
    checking the size only after decompressing would allocate the whole 32 MiB."""
    with fetcher(max_body_bytes=1 << 20) as f:
        tracemalloc.start()
        try:
            error = failure(f, news.url(TRAPS["bomb"]))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert error.kind == "too_large"
    assert peak < 8 << 20, f"peak {peak} bytes while decompressing"


def test_declared_huge_body_is_rejected_before_reading(news: Newsroom) -> None:
    with fetcher() as f:
        error = failure(f, news.url(TRAPS["huge"]))
    assert error.kind == "too_large" and f"Content-Length {HUGE_LENGTH}" in str(error)


# ---------------------------------------------------------------- redirects


def test_three_redirects_are_followed(news: Newsroom) -> None:
    with fetcher() as f:
        result = f.get(news.url("/trap/ok-hop/1"))
    assert result.status == 200 and result.redirects == 3
    assert result.final_url == news.url("/trap/feed.xml") and result.url == news.url("/trap/ok-hop/1")


def test_more_than_five_redirects_fail_and_the_target_is_never_asked(news: Newsroom) -> None:
    news.clear_requests()
    with fetcher() as f:
        error = failure(f, news.url(TRAPS["too-many-redirects"]))
    assert error.kind == "redirects"
    assert [r.path for r in news.requests] == [f"/trap/hop/{n}" for n in range(1, 7)]


def test_redirect_limit_is_configurable(news: Newsroom) -> None:
    with fetcher(max_redirects=2) as f:
        error = failure(f, news.url("/trap/ok-hop/1"))
    assert error.kind == "redirects"


def test_redirect_loop_fails(news: Newsroom) -> None:
    with fetcher() as f:
        error = failure(f, news.url(TRAPS["redirect-loop"]))
    assert error.kind == "redirects"


def test_redirect_to_a_file_url_is_a_bad_redirect(news: Newsroom) -> None:
    with fetcher() as f:
        error = failure(f, news.url(TRAPS["bad-redirect"]))
    assert error.kind == "redirects" and "file:" in str(error)


# ---------------------------------------------------------------- status codes


def test_server_errors_are_transient_and_carry_retry_after(news: Newsroom) -> None:
    with fetcher() as f:
        busy = failure(f, news.url(TRAPS["busy"]))
        broken = failure(f, news.url(TRAPS["server-error"]))
        gone = failure(f, news.url(TRAPS["not-found"]))
    assert (busy.kind, busy.status, busy.transient, busy.retry_after) == ("http", 503, True, 120)
    assert (broken.kind, broken.status, broken.transient) == ("http", 500, True)
    assert (gone.kind, gone.status, gone.transient) == ("http", 404, False)


# ---------------------------------------------------------------- proxies from the environment


def test_proxy_variables_are_ignored(news: Newsroom, recorder: Recorder,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, recorder.url)
        monkeypatch.setenv(name.lower(), recorder.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    feed = news.feed("fintech-wire-json")
    # Control: a client that trusts the environment really is sent to the "proxy".
    with httpx.Client(trust_env=True, timeout=3) as trusting:
        assert trusting.get(news.url(feed.path)).text == "recorded\n"
    assert len(recorder.requests) == 1
    news.clear_requests()
    with fetcher() as f:
        result = f.get(news.url(feed.path))
    assert result.body == news.route(feed.path).body
    assert [r.path for r in news.requests] == [feed.path]
    assert len(recorder.requests) == 1, "newswatch went through the proxy"


# ---------------------------------------------------------------- the address guard


def test_loopback_is_refused_unless_allowed(news: Newsroom) -> None:
    news.clear_requests()
    with fetcher(allow_networks=()) as f:
        by_ip = failure(f, news.url("/trap/feed.xml"))
        by_name = failure(f, news.url("/trap/feed.xml").replace("127.0.0.1", "localhost"))
    assert by_ip.kind == by_name.kind == "blocked"
    assert not by_ip.transient
    assert news.requests == [], "a refused address was connected to"


def test_dns_rebinding_cannot_move_the_connection_after_the_check(second_host: Recorder, monkeypatch) -> None:
    """A name answers 127.0.0.1 (allowed here) to the check and ::1 (not allowed, where a
    recorder listens on the same port) to every later lookup: the connection goes to the
    checked address, so the recorder sees nothing, whatever the outcome of the connect."""
    real, answers = socket.getaddrinfo, []

    def stub(host, port, *args, **kwargs):  # the resolver newswatch calls
        if host != "rebind.newswatch.test":
            return real(host, port, *args, **kwargs)
        answers.append("127.0.0.1" if not answers else "::1")
        family = socket.AF_INET6 if ":" in answers[-1] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (answers[-1], port))]

    monkeypatch.setattr(socket, "getaddrinfo", stub)
    with fetcher(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)) as f:
        try:
            f.get(f"http://rebind.newswatch.test:{second_host.port}/feed.xml")
        except FetchError as error:
            assert error.kind in ("network", "timeout"), error  # nothing at 127.0.0.1 on that port
    assert answers[:1] == ["127.0.0.1"] and second_host.requests == []


# 127.0.0.1 written as people write it to slip past a filter.
LOOPBACK_SPELLINGS = ("0x7f000001", "2130706433", "127.1", "0177.0.0.1", "127.000.000.001",
                      "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost")


def test_spellings_of_loopback_are_refused_when_loopback_is_off(news: Newsroom) -> None:
    """The newsroom listens on 127.0.0.1: with loopback off the allow-list, no spelling of
    its address reaches it."""
    port = news.base_url.rsplit(":", 1)[1]
    news.clear_requests()
    with fetcher(allow_networks=()) as f:
        kinds = {host: failure(f, f"http://{host}:{port}/trap/feed.xml").kind for host in LOOPBACK_SPELLINGS}
    assert kinds == dict.fromkeys(LOOPBACK_SPELLINGS, "blocked")
    assert news.requests == [], "a refused spelling was connected to"


def test_a_name_is_connected_to_by_its_checked_address_and_keeps_its_host_header(news: Newsroom) -> None:
    port = news.base_url.rsplit(":", 1)[1]
    news.clear_requests()
    with fetcher(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)) as f:
        result = f.get(f"http://localhost:{port}/trap/feed.xml")
    assert result.status == 200
    assert news.requests[-1].headers["host"] == f"localhost:{port}"


@pytest.fixture()
def second_host() -> Iterator[Recorder]:
    """A recording server on ::1 (loopback, but outside 127.0.0.1/32)."""
    try:
        server = Recorder("::1")
    except OSError as exc:
        pytest.skip(f"cannot listen on ::1 (no IPv6 loopback here): {exc}")
    try:
        yield server
    finally:
        server.close()


def test_every_redirect_hop_is_checked_against_the_allow_list(news: Newsroom, second_host: Recorder) -> None:
    news.set_route("/trap/to-second-host", status=302, headers={"Location": second_host.url + "/inside"})
    only_first = (ipaddress.ip_network("127.0.0.1/32"),)
    with fetcher(allow_networks=only_first) as f:
        error = failure(f, news.url("/trap/to-second-host"))
    assert error.kind == "blocked" and second_host.requests == []
    with fetcher(allow_networks=LOOPBACK) as f:  # control: allowed, the hop is taken
        assert f.get(news.url("/trap/to-second-host")).body == b"recorded\n"
    assert [r[1] for r in second_host.requests] == ["/inside"]


@pytest.fixture()
def site_blocked(room: Newsroom, tmp_path: Path) -> Site:
    return make_site(room, tmp_path, allow_loopback=False)


def test_run_with_loopback_not_allowed_contacts_nobody(site_blocked: Site) -> None:
    """Through the real command: with loopback off the allow-list every source fails as
    "blocked", the newsroom receives no request, and --strict turns that into exit 5."""
    done = site_blocked.run("run", "--strict")
    assert done.returncode == 5, done.stderr
    sources = [f.id for f in site_blocked.room.feeds if not f.optional]
    assert f"failed {len(sources)} (blocked {len(sources)})" in done.stdout
    assert site_blocked.room.requests == []
    health = rows(site_blocked.warehouse, "SELECT source_id, last_error_kind, state FROM source_health")
    assert sorted(h[0] for h in health) == sorted(sources)
    assert {(h[1], h[2]) for h in health} == {("blocked", "failing (never succeeded)")}


def test_a_kept_alive_connection_serves_only_the_host_it_was_opened_for() -> None:
    """Two names of one address (as on a CDN): each host gets its own connection, so a TLS
    connection checked for one name is never used for another; one host's connection is
    reused. (Pinned to the IP, the pool was keyed by the address, and the second name
    reused the first one's connection.)"""
    server = Recorder(keep_alive=True)
    try:
        with fetcher(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)) as f:
            for url in (f"http://localhost:{server.port}/a", f"{server.url}/b", f"http://localhost:{server.port}/c"):
                assert f.get(url).body == b"recorded\n"
    finally:
        server.close()
    hosts = [headers["host"] for _, _, headers in server.requests]
    assert hosts == [f"localhost:{server.port}", f"127.0.0.1:{server.port}", f"localhost:{server.port}"]
    first, second, third = server.peers
    assert first == third, "one host's kept-alive connection is reused"
    assert second != first, "another name of the same address gets its own connection"
