"""Sources polled side by side, pages extracted in a pool (issue 12): the same results
as one after another, and the same politeness and safety limits."""

from __future__ import annotations

import ipaddress
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import make_site, read_only, rows
from newsroom import Newsroom
from test_ingest import BAD_KINDS, mirror_routes

from pipeline.acquire.fetch import Fetcher, HttpLimits
from pipeline.config import load_settings
from pipeline.errors import FetchError
from pipeline.jobs import ingest

NOW = datetime(2026, 6, 20, tzinfo=timezone.utc)
LOOPBACK = HttpLimits(user_agent="newswatch-tests", connect_timeout=1.0, deadline=5.0,
                      allow_networks=(ipaddress.ip_network("127.0.0.0/8"),))
RESULTS = {
    "articles": "SELECT article_id, status, canonical_url, outlet_id, title, content_hash, fail_reason, "
                "attempts FROM articles",
    "urls": "SELECT url_key, article_id FROM article_urls",
    "sightings": "SELECT source_id, entry_key, article_id FROM sightings",
    "decisions": "SELECT story_id, article_id, decision, round(score, 9) FROM story_scores",
    "dup_links": "SELECT article_a, article_b, relation FROM dup_links",
    "clusters": "SELECT article_id, cluster_id, is_origin FROM clusters",
}


def _run(room: Newsroom, tmp: Path, concurrency: int, workers: int) -> tuple[dict, dict]:
    site = make_site(room, tmp, http={"concurrency": concurrency})
    with (site.config / "newswatch.toml").open("a", encoding="utf-8") as toml:
        toml.write(f"\n[extract]\nworkers = {workers}\n")
    report = ingest(load_settings(site.config), NOW, force=True)
    counts = {"new_articles": report.new_articles, "new_sightings": report.new_sightings,
              "failures": report.extraction_failures, "ok": report.sources_ok}
    with read_only(site.warehouse) as con:
        return counts, {k: sorted(con.execute(q).fetchall(), key=repr) for k, q in RESULTS.items()}


def test_the_same_articles_decisions_and_clusters_with_concurrency_on_and_off(tmp_path: Path) -> None:
    with Newsroom() as room:
        room.add_bad_sources([k for k in BAD_KINDS if k != "stall"])
        mirror_routes(room)
        off_counts, off = _run(room, tmp_path / "off", concurrency=1, workers=1)
        on_counts, on = _run(room, tmp_path / "on", concurrency=6, workers=2)
    assert off["articles"] and off["decisions"] and off["clusters"]
    for table in RESULTS:
        assert on[table] == off[table], table
    assert on_counts == off_counts


def test_a_page_two_feeds_list_is_fetched_once_when_they_are_polled_together(site) -> None:
    room = site.room  # an outlet's "all" and "ai" feeds list the same pages
    assert site.run("run", "--all").returncode == 0
    counts = {a.path: len(room.requests_for(a.path)) for a in room.live_articles() if not a.redirect}
    assert counts and max(counts.values()) == 1


def test_robots_txt_and_the_address_guard_hold_in_the_concurrent_path(room: Newsroom, tmp_path: Path) -> None:
    room.set_route("/robots.txt", body="User-agent: *\nDisallow: /signal-noise/\n", content_type="text/plain")
    # A feed whose pages are on ::1, outside the networks allowed here (127.0.0.0/8 only).
    v6 = room.url("/v6-feed.xml")
    port = room.base_url.rsplit(":", 1)[1]
    items = "".join(f"<item><title>Page {i}</title><link>http://[::1]:{port}/v6/{i}</link>"
                    f"<guid>v6-{i}</guid></item>" for i in range(3))
    room.set_route("/v6-feed.xml", body=f"<rss version='2.0'><channel><title>v6</title>{items}</channel></rss>",
                   content_type="application/rss+xml")
    site = make_site(room, tmp_path, http={"concurrency": 6, "allow_networks": ["127.0.0.0/8"]},
                     extra_sources=[{"id": "v6", "url": v6}])
    with (site.config / "newswatch.toml").open("a", encoding="utf-8") as toml:
        toml.write("\n[extract]\nworkers = 2\n")
    assert site.run("run", "--all").returncode == 0
    assert all(room.requests_for(a.path) == [] for a in room.live_articles() if a.outlet == "signal-noise")
    # The guard refused the robots.txt of [::1] (no connection made): an outage, so its
    # pages are held back, never requested, and tried again later.
    blocked = rows(site.warehouse, "SELECT status, fail_reason FROM articles WHERE url LIKE 'http://[::1]%'")
    assert len(blocked) == 3 and all(r[0] == "failed" and r[1].startswith("robots:") for r in blocked)
    robots = rows(site.warehouse, "SELECT fail_reason FROM articles WHERE url LIKE '%/signal-noise/%'")
    assert robots and all(r[0].startswith("robots:") for r in robots)


def _slow_routes(room: Newsroom, n: int) -> list[str]:
    for i in range(n):
        room.set_route(f"/slow/{i}", body=b"x" * 100, delay=0.1)
    return [room.url(f"/slow/{i}") for i in range(n)]


def _in_threads(urls: list[str], limits: HttpLimits) -> list[BaseException]:
    errors: list[BaseException] = []
    with Fetcher(limits) as fetcher:
        def get(url: str) -> None:
            try:
                fetcher.get(url)
            except FetchError as exc:
                errors.append(exc)
        threads = [threading.Thread(target=get, args=(u,)) for u in urls]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return errors


def test_one_request_at_a_time_per_host_with_the_delay_between(room: Newsroom) -> None:
    urls = _slow_routes(room, 4)
    limits = HttpLimits(**{**LOOPBACK.__dict__, "host_delay": 0.15})
    assert _in_threads(urls, limits) == []
    spans = sorted((r.time, r.finished) for i in range(4) for r in room.requests_for(f"/slow/{i}"))
    assert len(spans) == 4
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end + 0.15 - 0.01  # never overlapping, and the delay kept


def test_different_hosts_are_fetched_at_the_same_time() -> None:
    with Newsroom() as a, Newsroom() as b:
        urls = _slow_routes(a, 2) + _slow_routes(b, 2)
        assert _in_threads(urls, LOOPBACK) == []
        spans = [[(r.time, r.finished) for i in range(2) for r in room.requests_for(f"/slow/{i}")]
                 for room in (a, b)]
    first_a, first_b = min(spans[0]), min(spans[1])
    assert first_b[0] < first_a[1] and first_a[0] < first_b[1]  # the hosts' first requests overlap


def test_the_address_guard_refuses_every_thread_before_connecting(room: Newsroom) -> None:
    urls = _slow_routes(room, 4)
    limits = HttpLimits(**{**LOOPBACK.__dict__, "allow_networks": ()})
    errors = _in_threads(urls, limits)
    assert len(errors) == 4 and all(getattr(e, "kind", None) == "blocked" for e in errors)
    assert all(room.requests_for(f"/slow/{i}") == [] for i in range(4))


@pytest.mark.parametrize("value", [0, -1, "two"])
def test_bad_worker_counts_are_refused_naming_the_key(tmp_path: Path, room: Newsroom, value: object) -> None:
    site = make_site(room, tmp_path)
    with (site.config / "newswatch.toml").open("a", encoding="utf-8") as toml:
        toml.write(f"\n[extract]\nworkers = {value!r}\n".replace("'", '"'))
    with pytest.raises(Exception, match="extract.workers"):
        load_settings(site.config)
