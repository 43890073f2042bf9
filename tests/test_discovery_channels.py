"""Coverage found wherever it appears: news-search feeds, a GDELT-like list, news sitemaps
(robots.txt -> index -> gzipped child) and pages whose feed is discovered.

The loopback newsroom runs with its discovery channels (``Newsroom(discovery=True)``):
four outlets that the configuration lists nowhere, reachable only through those channels.
The first tests look at one real ``newswatch run`` (a subprocess, as cron runs it) with
an audit hook that records every name resolved and every address connected to, so "the
aggregator's own host is never contacted" is observed, not assumed. The later tests call
``jobs.ingest`` with a chosen ``now`` where the timing itself is under test.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import make_site, rewrite_sources, rows
from newsroom import Newsroom, render_home, token_link

from pipeline.acquire.documents import MAX_CHILDREN
from pipeline.config import load_settings
from pipeline.content.fingerprint import canonical_url
from pipeline.jobs import ingest

# Loaded into the `newswatch run` subprocess through PYTHONPATH: logs every DNS lookup
# and every connect (PEP 578 audit events) to the file named by NW_AUDIT_LOG.
SITECUSTOMIZE = '''\
import os, sys
_log = os.environ.get("NW_AUDIT_LOG")
def _hook(event, args):
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect":
        host = args[1][0] if isinstance(args[1], tuple) else args[1]
    else:
        return
    with open(_log, "a", encoding="utf-8") as out:
        out.write(f"{event} {host!r}\\n")
if _log:
    sys.addaudithook(_hook)
'''

T0 = datetime(2026, 6, 8, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Run:
    room: Newsroom
    config: Path
    warehouse: Path
    returncode: int
    output: str
    contacts: list[str]  # "socket.getaddrinfo '127.0.0.1'", ...


@pytest.fixture(scope="module")
def room() -> Iterator[Newsroom]:
    with Newsroom(discovery=True) as served:
        yield served


@pytest.fixture(scope="module")
def run(room: Newsroom, tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("discovery")
    site = make_site(room, tmp, extra_sources=room.discovery_sources())
    (tmp / "hook").mkdir()
    (tmp / "hook" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp / "audit.log"
    done = site.run("run", env={"PYTHONPATH": str(tmp / "hook"), "NW_AUDIT_LOG": str(log)})
    contacts = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return Run(room, site.config, site.warehouse, done.returncode, done.stdout + done.stderr, contacts)


def unlisted(room: Newsroom) -> list[str]:
    return [slug for slug, outlet in room.outlets.items() if not outlet.listed]


def sightings_of(run: Run, path: str) -> list[tuple[str, str, str]]:
    """(source_id, kind, link) of every sighting of the article at ``path``."""
    return rows(run.warehouse, "SELECT s.source_id, src.kind, s.link FROM sightings s "
                "JOIN sources src USING (source_id) JOIN articles a USING (article_id) "
                "WHERE a.url = ? ORDER BY 1", [run.room.url(path)])


# ---------------------------------------------------------------- one run through the CLI


def test_run_finds_the_storys_coverage_at_outlets_listed_nowhere(run: Run) -> None:
    assert run.returncode == 0, run.output
    text = (run.config / "sources.toml").read_text(encoding="utf-8")
    only_by_aggregators = [s for s in unlisted(run.room) if s != "quarry-gazette"]
    assert len(only_by_aggregators) == 3
    for slug in only_by_aggregators:  # named nowhere: not as outlet, source, URL or name
        assert slug not in text and run.room.outlets[slug].name not in text
    for slug in unlisted(run.room):
        outlet = run.room.outlets[slug]
        expected = [(a.title, outlet.slug, outlet.name, False, "relevant")
                    for a in run.room.articles if a.outlet == slug]
        found = rows(run.warehouse, "SELECT a.title, a.outlet_id, o.name, o.configured, s.decision "
                     "FROM articles a JOIN outlets o USING (outlet_id) JOIN story_scores s "
                     "USING (article_id) WHERE a.status = 'extracted' AND a.url LIKE ?",
                     [run.room.url(outlet.prefix) + "%"])
        assert found == expected, slug


def test_same_article_found_by_feed_search_and_sitemap_is_one_article_with_three_sightings(
    run: Run,
) -> None:
    article = run.room.article("ht-rsi-explainer")
    page = run.room.url(article.path)
    ids = rows(run.warehouse, "SELECT DISTINCT article_id FROM articles WHERE url = ? "
               "OR canonical_url = ?", [page, canonical_url(page)])
    assert len(ids) == 1
    seen = sightings_of(run, article.path)
    assert [(source_id, kind) for source_id, kind, _ in seen] == [
        ("harbor-tribune-atom", "feed"), ("news-search", "search"), ("site-sitemaps", "sitemap")]
    search_link = next(link for source_id, _, link in seen if source_id == "news-search")
    assert search_link == page  # the google.com/url wrapper was taken off
    assert rows(run.warehouse, "SELECT count(*) FROM sightings WHERE article_id = ?", [ids[0][0]]) == [(3,)]


def test_aggregator_hosts_are_never_contacted(run: Run) -> None:
    assert run.contacts, "the audit hook saw no network activity at all"
    hosts = {line.split(" ", 1)[1].strip("'") for line in run.contacts}
    assert all(ipaddress.ip_address(h).is_loopback for h in hosts), hosts
    wrapped = run.room.article("ll-local-labs")
    assert run.room.requests_for(wrapped.path), "the unwrapped link was fetched from the newsroom"


def test_article_token_stays_unresolved_until_merged_into_the_publishers_article(run: Run) -> None:
    article = run.room.article("mr-brake-essay")
    link = token_link(article.slug)
    real = rows(run.warehouse, "SELECT article_id, outlet_id, status FROM articles WHERE url = ?",
                [run.room.url(article.path)])
    assert [r[1:] for r in real] == [("meridian-review", "extracted")]
    placeholder = rows(run.warehouse, "SELECT status, merged_into, outlet_id, title FROM articles "
                       "WHERE url = ?", [link])
    assert placeholder == [("merged", real[0][0], "meridian-review", f"{article.title} - Meridian Review")]
    assert rows(run.warehouse, "SELECT article_id FROM article_urls WHERE url_key = ?",
                [canonical_url(link)]) == [(real[0][0],)]
    assert [(s, k) for s, k, _ in sightings_of(run, article.path)] == [
        ("news-search", "search"), ("site-sitemaps", "sitemap")]


def test_sitemap_source_reads_robots_then_the_index_and_its_children(run: Run) -> None:
    channels = run.room.channels
    assert channels is not None
    for path in ("/robots.txt", channels.index_path, *(c.path for c in channels.children)):
        assert run.room.requests_for(path), path
    stale = [p for c in channels.children for p, _, _ in c.stale]
    assert stale and not any(run.room.requests_for(p) for p in stale)
    assert rows(run.warehouse, "SELECT count(*) FROM sightings WHERE link LIKE '%spring-budget%'") == [(0,)]


def test_page_source_polls_the_feed_its_home_page_advertises(run: Run) -> None:
    feed = run.room.url("/quarry-gazette/syndication/latest.xml")
    assert rows(run.warehouse, "SELECT discovered_url FROM sources WHERE source_id = "
                "'quarry-gazette-home'") == [(feed,)]
    assert sightings_of(run, run.room.article("qg-quarry-pilots").path)[0][:2] == (
        "quarry-gazette-home", "page")


def test_discovery_channels_view_has_a_row_per_outlet_and_channel(run: Run) -> None:
    found = rows(run.warehouse, "SELECT channel, source_id, articles FROM discovery_channels "
                 "WHERE outlet_id = 'harbor-tribune' ORDER BY source_id")
    harbor = [a for a in run.room.articles if a.outlet == "harbor-tribune"]
    assert found == [("feed", "harbor-tribune-atom", len(harbor)), ("search", "news-search", 1),
                     ("sitemap", "site-sitemaps", len(harbor))]
    outlets = {r[0] for r in rows(run.warehouse, "SELECT outlet_id FROM discovery_channels")}
    assert set(unlisted(run.room)) <= outlets


# ---------------------------------------------------------------- timing, order, failures


def only(room: Newsroom, config: Path, *source_ids: str) -> None:
    """Keep just these discovery sources in sources.toml."""
    wanted = [s for s in room.discovery_sources() if s["id"] in source_ids]
    rewrite_sources(config, order=[], extra=wanted)


def test_merge_also_works_when_the_article_came_first_and_the_view_shows_the_lag(
    room: Newsroom, tmp_path: Path
) -> None:
    site = make_site(room, tmp_path, extra_sources=room.discovery_sources())
    only(room, site.config, "site-sitemaps")
    ingest(load_settings(site.config), T0)
    only(room, site.config, "site-sitemaps", "news-search")
    ingest(load_settings(site.config), T0 + timedelta(hours=2), force=True)
    real = rows(site.warehouse, "SELECT article_id FROM articles WHERE url = ?",
                [room.url(room.article("mr-brake-essay").path)])[0][0]
    assert rows(site.warehouse, "SELECT status, merged_into FROM articles WHERE url = ?",
                [token_link("mr-brake-essay")]) == [("merged", real)]
    view = rows(site.warehouse, "SELECT channel, channel_rank, found_first, lag_avg_seconds, "
                "behind_outlet_first FROM discovery_channels WHERE outlet_id = 'meridian-review' "
                "ORDER BY channel_rank")
    assert view == [("sitemap", 1, 1, 0.0, timedelta(0)), ("search", 2, 0, 7200.0, timedelta(hours=2))]


def test_page_source_remembers_its_feed_and_rediscovers_it_when_it_moves(tmp_path: Path) -> None:
    with Newsroom(discovery=True) as room:
        site = make_site(room, tmp_path, extra_sources=room.discovery_sources())
        northgate = {"id": "northgate-home", "kind": "page", "url": room.url("/northgate-courier/")}
        rewrite_sources(site.config, order=[], extra=[northgate, room.discovery_sources()[-1]])
        settings = load_settings(site.config)
        ingest(settings, T0)
        ingest(settings, T0 + timedelta(hours=1), force=True)
        assert len(room.requests_for("/quarry-gazette/")) == 1  # remembered, not read again
        _move_feed(room, "/quarry-gazette/syndication/latest.xml", "/quarry-gazette/feeds/v2.rss")
        report = ingest(settings, T0 + timedelta(hours=2), force=True)
        assert all(o.ok for o in report.outcomes), report.outcomes
        assert len(room.requests_for("/quarry-gazette/")) == 2
        assert rows(site.warehouse, "SELECT source_id, discovered_url FROM sources ORDER BY 1") == [
            ("northgate-home", room.url("/northgate-courier/rss")),  # a usual path: no link rel
            ("quarry-gazette-home", room.url("/quarry-gazette/feeds/v2.rss"))]


def _move_feed(room: Newsroom, old: str, new: str) -> None:
    feed = next(f for f in room.feeds if f.path == old)
    room.set_route(new, room.route(old))
    room.remove_route(old)
    outlet = room.outlets[feed.outlet]
    home = render_home(outlet, [a for a in room.articles if a.outlet == outlet.slug], room.base_url,
                       [replace(feed, path=new)])
    room.set_route(outlet.prefix, body=home)


def test_child_sitemaps_fetched_per_poll_are_bounded(room: Newsroom, tmp_path: Path) -> None:
    children = [f"/big/sitemap-{n}.xml" for n in range(MAX_CHILDREN + 5)]
    empty = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             "</urlset>")
    for path in children:
        room.set_route(path, body=empty, content_type="application/xml")
    index = "".join(f"<sitemap><loc>{room.url(p)}</loc></sitemap>" for p in children)
    room.set_route("/big/index.xml", content_type="application/xml", body=(
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{index}</sitemapindex>"))
    site = make_site(room, tmp_path)
    rewrite_sources(site.config, order=[], extra=[
        {"id": "big", "kind": "sitemap", "url": room.url("/big/index.xml")}])
    report = ingest(load_settings(site.config), T0)
    asked = [p for p in children if room.requests_for(p)]
    assert asked == children[:MAX_CHILDREN]
    assert report.outcomes[0].ok and "5 child sitemaps left out" in (report.outcomes[0].error or "")
