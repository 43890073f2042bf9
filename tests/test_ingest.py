"""End-to-end ingest (issue 2) through the real ``newswatch run`` command.

The module shares one newsroom and two runs against it: a first ``newswatch run`` (every
source due) and a second ``newswatch run --all`` (every source polled again at once). Both
run with HTTP_PROXY / HTTPS_PROXY / ALL_PROXY pointing at a recording server that must
receive nothing. Besides the newsroom's feeds the configuration has:

- ``amp-mirror``, a feed of the Daily Circuit listing (a) a mirror of one of its pages at
  another URL, with tracking parameters, whose ``<link rel=canonical>`` names the real
  page, (b) a page that answers 404 and (c) a teaser too short to be an article. It sorts
  first, so the mirror is fetched before any feed links the real page;
- four failing or odd feeds from the newsroom's traps: one answering 500, one that stalls
  past the 1 s feed deadline, one with broken XML and one truncated mid-item (a "bozo"
  feed that still yields an entry, whose link is a 404).

The crash test at the end has its own newsroom and warehouse.
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import (
    GROWING_TABLES,
    Recorder,
    Site,
    make_site,
    read_only,
    rewrite_sources,
    row_counts,
    rows,
    set_setting,
    start_newswatch,
    table_contents,
)
from newsroom import SEEDS_DIR, Newsroom, RecordedRequest, not_modified

from pipeline.config import Outlet
from pipeline.config.references import read_reference_set
from pipeline.content import fingerprint as fp
from pipeline.content import neardup
from pipeline.content.outlets import OutletResolver
from pipeline.store import lock_is_held, sql_files

# The facts of issue 2 that a rerun must leave exactly as they were.
STABLE_TABLES = ("outlets", "articles", "article_urls", "sightings", "fingerprints", "lsh_bands")
BAD_KINDS = ("server-error", "stall", "broken-xml", "truncated")
MIRRORED = "dc-successors-hype"  # the article the amp-mirror feed links under another URL
SUMMARY = re.compile(r"run (\d+): sources ok (\d+), failed (\d+)(?: \(([^)]*)\))?\n"
                     r"\s+new sightings (\d+), new articles (\d+), extraction failures (\d+), "
                     r"reference articles (\d+)")


@dataclass(frozen=True)
class Pass:
    """One ``newswatch run`` and what it left."""

    code: int
    stdout: str
    stderr: str
    requests: list[RecordedRequest]
    counts: dict[str, int]
    contents: dict[str, list[tuple]]

    def summary(self) -> dict[str, object]:
        m = SUMMARY.search(self.stdout)
        assert m, self.stdout
        kinds = dict((k, int(n)) for k, n in (p.rsplit(" ", 1) for p in m[4].split(", "))) if m[4] else {}
        return {"run": int(m[1]), "ok": int(m[2]), "failed": int(m[3]), "kinds": kinds,
                "sightings": int(m[5]), "articles": int(m[6]), "failures": int(m[7]),
                "references": int(m[8])}

    def paths(self) -> Counter[str]:
        return Counter(r.path for r in self.requests)


@dataclass(frozen=True)
class Ingest:
    room: Newsroom
    site: Site
    proxy: Recorder
    first: Pass
    second: Pass
    mirror: dict[str, str]  # role -> path of the amp-mirror feed's pages
    bad: dict[str, str]  # trap kind -> source id
    aliases: dict[str, str]  # article_urls after both runs: url key -> article id

    @property
    def warehouse(self) -> Path:
        return self.site.warehouse


def mirror_routes(room: Newsroom) -> dict[str, str]:
    """Serve the amp-mirror feed and its three pages; returns role -> path."""
    real = room.article(MIRRORED)
    paths = {"feed": "/daily-circuit/amp/feed.xml", "mirror": "/daily-circuit/amp" + real.path.split("/daily-circuit")[1],
             "missing": "/daily-circuit/2026/06/07/withdrawn-story.html",
             "teaser": "/daily-circuit/2026/06/07/members-only-teaser.html"}
    room.set_route(paths["mirror"], room.route(real.path))  # same HTML: canonical names the real page
    room.set_route(paths["teaser"], body="<html><head><title>Members only</title></head><body><article>"
                   "<h1>Members only</h1><p>Subscribe to read this story.</p></article></body></html>")
    links = [room.url(paths["mirror"]) + "?utm_source=amp&utm_medium=mirror&fbclid=x1",
             room.url(paths["missing"]), room.url(paths["teaser"])]
    items = "".join(f"<item><title>Item {i}</title><link>{link.replace('&', '&amp;')}</link>"
                    f"<guid isPermaLink=\"false\">amp-{i}</guid></item>" for i, link in enumerate(links))
    room.set_route(paths["feed"], body='<?xml version="1.0"?><rss version="2.0"><channel><title>AMP mirror'
                   f"</title><link>{room.base_url}/daily-circuit/</link>{items}</channel></rss>",
                   content_type="application/rss+xml")
    return paths


def run_once(site: Site, proxy: Recorder, *args: str) -> Pass:
    env = {name: proxy.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                                        "https_proxy", "all_proxy")}
    before = len(site.room.requests)
    done = site.run("run", *args, env=env)
    assert done.returncode == 0, done.stderr
    return Pass(done.returncode, done.stdout, done.stderr, site.room.requests[before:],
                row_counts(site.warehouse), table_contents(site.warehouse, STABLE_TABLES))


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingest]:
    tmp = tmp_path_factory.mktemp("ingest")
    proxy = Recorder()
    with Newsroom() as room:
        bad = room.add_bad_sources(BAD_KINDS)
        paths = mirror_routes(room)
        site = make_site(room, tmp, http={"feed_timeout": 1.0, "page_timeout": 5.0})
        rewrite_sources(site.config, extra=[{"id": "amp-mirror", "kind": "feed",
                                             "url": room.url(paths["feed"]), "outlet": "daily-circuit"}])
        first = run_once(site, proxy)
        second = run_once(site, proxy, "--all")
        aliases = dict(rows(site.warehouse, "SELECT url_key, article_id FROM article_urls"))
        yield Ingest(room, site, proxy, first, second, paths, bad, aliases)
    proxy.close()


def article_id(ingest: Ingest, path: str) -> str | None:
    """The article the newsroom page at ``path`` became (through the URL alias table)."""
    return ingest.aliases.get(fp.canonical_url(ingest.room.url(path)))


def by_article(ingest: Ingest, column: str) -> dict[str, object]:
    """article id -> one column of articles."""
    return dict(rows(ingest.warehouse, f"SELECT article_id, {column} FROM articles"))


def feeds(room: Newsroom) -> list:
    return [f for f in room.feeds if not f.optional]


# ---------------------------------------------------------------- the run and its summary


def test_summary_counts_match_the_newsroom_and_the_warehouse(ingest: Ingest) -> None:
    room, s = ingest.room, ingest.first.summary()
    live = room.live_articles()
    listed = sum(len(f.slugs) for f in feeds(room)) + 3 + 1  # + mirror feed items + truncated item
    assert s["run"] == 1
    assert s["ok"] == len(feeds(room)) + 2  # the mirror and the truncated feed work
    assert s["failed"] == 3 and s["kinds"] == {"http": 1, "parse": 1, "timeout": 1}
    assert s["articles"] == len(live)
    assert s["sightings"] == listed == ingest.first.counts["sightings"]
    assert s["failures"] == 3  # the 404, the teaser and the truncated feed's 404 link
    assert s["references"] == len(list(SEEDS_DIR.glob("*.txt")))
    statuses = dict(rows(ingest.warehouse, "SELECT status, count(*) FROM articles GROUP BY 1"))
    assert statuses == {"extracted": len(live), "failed": 3, "reference": s["references"]}


def test_every_request_carries_the_configured_user_agent(ingest: Ingest) -> None:
    agents = {r.headers.get("user-agent") for r in ingest.first.requests + ingest.second.requests}
    assert agents == {"newswatch-tests/0.1 (+http://127.0.0.1/)"}


def test_proxy_variables_do_not_divert_the_run(ingest: Ingest) -> None:
    assert ingest.proxy.requests == []
    assert len(ingest.first.requests) > 20  # everything went straight to the newsroom


def test_progress_is_not_written_when_stderr_is_not_a_terminal(ingest: Ingest) -> None:
    for run in (ingest.first, ingest.second):
        assert "\r" not in run.stderr and not re.search(r"\[\d+/\d+\]", run.stderr)


# ---------------------------------------------------------------- pages


def test_each_page_is_fetched_once_and_never_again(ingest: Ingest) -> None:
    room, first, second = ingest.room, ingest.first.paths(), ingest.second.paths()
    for a in room.live_articles():
        if a.slug == MIRRORED:  # its mirror, polled first or at the same time, may have stored it
            assert first[a.path] <= 1, a.slug
        else:
            assert first[a.path] == 1, a.slug
        assert second[a.path] == 0, a.slug
        if a.redirect:
            assert first[f"/{a.outlet}/go/{a.slug}"] == 1 and second[f"/{a.outlet}/go/{a.slug}"] == 0
    for role in ("mirror", "missing", "teaser"):
        assert first[ingest.mirror[role]] == 1 and second[ingest.mirror[role]] == 0


def test_pages_that_fail_are_recorded_with_their_reason_and_the_run_goes_on(ingest: Ingest) -> None:
    failed = dict(rows(ingest.warehouse, "SELECT url, fail_reason FROM articles WHERE status = 'failed'"))
    assert failed[ingest.room.url(ingest.mirror["missing"])].startswith("http: HTTP 404")
    assert failed[ingest.room.url(ingest.mirror["teaser"])].startswith("extract/too_short")
    assert failed[ingest.room.url("/trap/first.html")].startswith("http: HTTP 404")
    # The source that listed them succeeded, and so did everything after it.
    health = dict(rows(ingest.warehouse, "SELECT source_id, state FROM source_health"))
    assert health["amp-mirror"] == "ok"
    assert all(health[f.id] == "ok" for f in feeds(ingest.room))


def test_seed_pages_come_back_with_the_seed_text(ingest: Ingest) -> None:
    """Each seed article served as an outlet page, extracted, against the seed file.

    Equal normalized-text fingerprints where the extractor returns the body alone. What
    leaks in otherwise (measured on these templates): the page's headline, for outlets
    whose <h1> sits inside the <article> element the extractor takes, and Fintech Wire's
    "Follow Fintech Wire on Telegram and LinkedIn..." line. Then the page text must still
    be a near-identical copy: neardup relation "exact" or "copy", Jaccard of word 5-gram
    shingles >= 0.95, the seed's shingles (almost) all inside the page's (containment
    >= 0.99), and at most 5 % more words than the seed.
    """
    seeds = {s.file: s for s in read_reference_set(SEEDS_DIR)}
    references = dict(rows(ingest.warehouse, "SELECT reference_file, content_hash FROM articles "
                                             "WHERE status = 'reference'"))
    assert set(references) == set(seeds)
    for a in (a for a in ingest.room.articles if a.seed):
        seed = seeds[a.seed]
        assert references[a.seed] == fp.content_hash(seed.text)
        body, digest = rows(ingest.warehouse, "SELECT body, content_hash FROM articles WHERE article_id = ?",
                            [article_id(ingest, a.path)])[0]
        if digest == fp.content_hash(seed.text):
            continue
        match = neardup.compare(seed.text, body)
        assert match.relation in ("exact", "copy"), (a.slug, match)
        assert match.jaccard >= 0.95 and match.containment >= 0.99, (a.slug, match)
        assert len(fp.words(body)) <= 1.05 * len(fp.words(seed.text)), a.slug


def test_published_times_are_stored_in_utc(ingest: Ingest) -> None:
    """Pages state their time in the outlet's zone (Northgate Courier in UTC+1)."""
    published = by_article(ingest, "published_at")
    for a in ingest.room.live_articles():
        assert published[article_id(ingest, a.path)] == a.published, a.slug


# ---------------------------------------------------------------- identity


def test_tracking_parameters_never_reach_a_canonical_url(ingest: Ingest) -> None:
    canonical = [r[0] for r in rows(ingest.warehouse, "SELECT canonical_url FROM articles")]
    assert not [u for u in canonical if re.search(r"[?&](utm_|fbclid|ref=)", u)]
    links = [r[0] for r in rows(ingest.warehouse, "SELECT link FROM sightings")]
    assert any("utm_source=" in link for link in links)  # the feeds did carry them


def test_a_declared_canonical_is_the_articles_identity(ingest: Ingest) -> None:
    """The mirror was fetched first; its page names the real page as canonical, so the
    article is known by the real page's URL, and the feeds' links to that page lead to the
    same article instead of another fetch."""
    real = ingest.room.article(MIRRORED)
    mirror_id = article_id(ingest, ingest.mirror["mirror"])
    assert mirror_id is not None and mirror_id == article_id(ingest, real.path)
    (canonical,) = rows(ingest.warehouse, "SELECT canonical_url FROM articles WHERE article_id = ?", [mirror_id])[0]
    assert canonical == fp.canonical_url(ingest.room.url(real.path))
    sources = {r[0] for r in rows(ingest.warehouse, "SELECT source_id FROM sightings WHERE article_id = ?",
                                  [mirror_id])}
    assert sources == {"amp-mirror", "daily-circuit-all", "daily-circuit-ai"}


def test_an_article_in_two_feeds_is_one_article_with_two_sightings(ingest: Ingest) -> None:
    room = ingest.room
    everything, ai = room.feed("daily-circuit-all"), room.feed("daily-circuit-ai")
    both = set(everything.slugs) & set(ai.slugs)
    assert both and room.feed_link(everything, room.article(next(iter(both)))) != \
        room.feed_link(ai, room.article(next(iter(both))))
    for slug in both:
        aid = article_id(ingest, room.article(slug).path)
        seen = rows(ingest.warehouse, "SELECT source_id FROM sightings WHERE article_id = ? AND source_id "
                                      "LIKE 'daily-circuit-%'", [aid])
        assert sorted(s[0] for s in seen) == ["daily-circuit-ai", "daily-circuit-all"], slug
    (dupes,) = rows(ingest.warehouse, "SELECT count(*) FROM (SELECT canonical_url FROM articles "
                                      "GROUP BY 1 HAVING count(*) > 1)")[0]
    assert dupes == 0


def test_articles_are_attributed_to_their_outlet_by_url_prefix(ingest: Ingest) -> None:
    """Every outlet of the newsroom shares the host 127.0.0.1: only the configured URL
    prefixes can tell them apart."""
    outlets = by_article(ingest, "outlet_id")
    for a in ingest.room.live_articles():
        assert outlets[article_id(ingest, a.path)] == a.outlet, a.slug


def test_outlets_resolve_by_prefix_then_domain_then_registrable_domain() -> None:
    resolver = OutletResolver((
        Outlet("wire", "The Wire", ("wire.test",)),
        Outlet("wire-opinion", "The Wire: Opinion", (), ("https://www.wire.test/opinion/",)),
    ))
    assert resolver.resolve("https://www.wire.test/opinion/a-view").outlet_id == "wire-opinion"
    assert resolver.resolve("https://news.wire.test/story").outlet_id == "wire"
    found = resolver.resolve("https://news.example.co.uk/2026/story", "Example News")
    assert (found.outlet_id, found.name, found.configured) == ("example.co.uk", "Example News", False)


# ---------------------------------------------------------------- sources and views


def test_failing_feeds_show_in_source_health_with_their_kind(ingest: Ingest) -> None:
    health = {r[0]: r[1:] for r in rows(ingest.warehouse, "SELECT source_id, state, last_error_kind, "
                                                          "consecutive_failures FROM source_health")}
    expected = {"server-error": "http", "stall": "timeout", "broken-xml": "parse"}
    for kind, error_kind in expected.items():
        # Two runs, two failures in a row (--all polls sources that are backing off).
        assert health[ingest.bad[kind]] == ("failing (never succeeded)", error_kind, 2), kind
    for source in [f.id for f in feeds(ingest.room)] + ["amp-mirror"]:
        assert health[source] == ("ok", None, 0), source


def test_a_bozo_feed_that_yields_entries_is_a_warning_not_a_failure(ingest: Ingest) -> None:
    source = ingest.bad["truncated"]
    assert f"warning {source}:" in ingest.first.stdout
    assert rows(ingest.warehouse, "SELECT state FROM source_health WHERE source_id = ?", [source]) == [("ok",)]
    assert rows(ingest.warehouse, "SELECT title FROM sightings WHERE source_id = ?", [source]) == \
        [("First whole story",)]


def test_coverage_by_outlet_counts_each_outlets_articles(ingest: Ingest) -> None:
    expected = Counter(a.outlet for a in ingest.room.live_articles())
    coverage = {r[0]: r[1:] for r in rows(ingest.warehouse, "SELECT outlet_id, outlet, articles, "
                                                            "first_published FROM coverage_by_outlet")}
    for slug, outlet in ingest.room.outlets.items():
        first = min(a.published for a in ingest.room.live_articles() if a.outlet == slug)
        assert coverage[slug] == (outlet.name, expected[slug], first), slug


def test_coverage_daily_counts_by_utc_publication_day(ingest: Ingest) -> None:
    expected = Counter((a.published.date(), a.outlet) for a in ingest.room.live_articles())
    daily = rows(ingest.warehouse, "SELECT day, outlet_id, articles FROM coverage_daily WHERE outlet_id IN "
                                   f"({', '.join('?' * len(ingest.room.outlets))})", list(ingest.room.outlets))
    assert {(d, o): n for d, o, n in daily} == expected


def test_migrations_are_numbered_and_recorded_and_every_view_exists(ingest: Ingest) -> None:
    files = [name for name, _ in sql_files("migrations")]
    assert files and all(re.fullmatch(r"\d{4}_[a-z0-9_]+\.sql", f) for f in files)
    recorded = rows(ingest.warehouse, "SELECT version, name FROM schema_migrations ORDER BY 1")
    assert recorded == [(int(f[:4]), f) for f in files]
    views = {r[0] for r in rows(ingest.warehouse, "SELECT table_name FROM information_schema.tables "
                                                  "WHERE table_type = 'VIEW'")}
    assert {name.removesuffix(".sql") for name, _ in sql_files("views")} <= views
    assert {"coverage_by_outlet", "coverage_daily", "source_health"} <= views


# ---------------------------------------------------------------- the second run


def test_second_run_asks_conditionally_and_gets_304(ingest: Ingest) -> None:
    room = ingest.room
    asked = {r.path: r for r in ingest.second.requests}
    statuses = dict(rows(ingest.warehouse, "SELECT source_id, http_status FROM fetch_log WHERE run_id = 2"))
    for feed in feeds(room):
        route, request = room.route(feed.path), asked[feed.path]
        if not (feed.etag or feed.last_modified):
            assert not {"if-none-match", "if-modified-since"} & set(request.headers), feed.id
            assert statuses[feed.id] == 200
            continue
        if feed.etag:
            assert request.headers["if-none-match"] == route.etag, feed.id
        if feed.last_modified:
            assert request.headers["if-modified-since"] == route.last_modified, feed.id
        # The server's own rule (RFC 9110 section 13.2.2) says 304, and the client saw 304.
        assert not_modified(route, httpx.Headers(request.headers), "GET"), feed.id
        assert statuses[feed.id] == 304, feed.id


def test_second_run_changes_no_fact(ingest: Ingest) -> None:
    first, second = ingest.first, ingest.second
    assert second.summary() | {"run": 1} == first.summary() | {
        "run": 1, "sightings": 0, "articles": 0, "failures": 0}
    for table in set(first.counts) | set(second.counts):
        if table not in GROWING_TABLES:
            assert second.counts[table] == first.counts[table], table
    assert second.counts["runs"] == first.counts["runs"] + 1
    assert second.counts["fetch_log"] == first.counts["fetch_log"] + len(
        rows(ingest.warehouse, "SELECT source_id FROM sources"))
    for table in STABLE_TABLES:
        assert second.contents[table] == first.contents[table], table


def test_seeds_are_loaded_once_however_often_the_job_runs(ingest: Ingest) -> None:
    files = sorted(p.name for p in SEEDS_DIR.glob("*.txt"))
    refs = rows(ingest.warehouse, "SELECT reference_file, is_reference, run_id FROM articles "
                                  "WHERE status = 'reference' ORDER BY 1")
    assert refs == [(f, True, 1) for f in files]  # written by run 1, left alone by run 2
    assert ingest.second.summary()["references"] == len(files)


# ---------------------------------------------------------------- crash safety


def wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_killed_run_leaves_a_consistent_warehouse_and_the_next_run_finishes(
        room: Newsroom, tmp_path: Path) -> None:
    """SIGKILL while the run waits on a stalling feed, after two feeds were committed."""
    stall = room.add_bad_sources(["stall"])["stall"]
    # One source after another, so that exactly the two before the stall are committed.
    site = make_site(room, tmp_path, http={"feed_timeout": 30.0, "concurrency": 1})
    done_first = ["daily-circuit-all", "daily-circuit-ai"]
    rest = [f.id for f in feeds(room) if f.id not in done_first]
    rewrite_sources(site.config, order=[*done_first, stall, *rest])
    run = start_newswatch(["run", "--all"], config=site.config, cwd=site.cwd)
    try:
        assert wait_for(lambda: room.requests_for(room.bad_sources[0].path)), "never reached the stall"
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=10)
    assert wait_for(lambda: not lock_is_held(site.warehouse), 5), "a killed run still holds the lock"

    # Openable and consistent: the committed sources complete, nothing of the others.
    with read_only(site.warehouse) as con:
        assert con.execute("SELECT status, finished_at FROM runs").fetchall() == [("running", None)]
        logged = {r[0] for r in con.execute("SELECT source_id FROM fetch_log").fetchall()}
        seen = {r[0] for r in con.execute("SELECT DISTINCT source_id FROM sightings").fetchall()}
        extracted = con.execute("SELECT count(*) FROM articles WHERE status = 'extracted'").fetchone()[0]
    assert logged == seen == set(done_first)
    circuit = {a.slug for f in done_first for a in map(room.article, room.feed(f).slugs)}
    assert extracted == len(circuit)

    set_setting(site.config, "http", "feed_timeout", 1.0)
    pages_before = Counter(r.path for r in room.requests)
    again = site.run("run")
    assert again.returncode == 0, again.stderr
    live = room.live_articles()
    with read_only(site.warehouse) as con:
        assert con.execute("SELECT count(*), count(DISTINCT canonical_url) FROM articles "
                           "WHERE status = 'extracted'").fetchone() == (len(live), len(live))
        for feed in feeds(room):
            links = {r[0] for r in con.execute("SELECT link FROM sightings WHERE source_id = ?",
                                               [feed.id]).fetchall()}
            assert links == {room.feed_link(feed, room.article(s)) for s in feed.slugs}, feed.id
        # The next run, holding the lock, knows run 1 can no longer be running.
        assert con.execute("SELECT run_id, status FROM runs ORDER BY 1").fetchall() == \
            [(1, "killed"), (2, "done")]
    refetched = Counter(r.path for r in room.requests) - pages_before
    assert not [a.slug for a in live if a.slug in circuit and refetched[a.path]]
