"""The newsroom fixture itself: what it serves, and how it misbehaves on purpose.

Every request goes to the room on 127.0.0.1 with httpx.
"""

from __future__ import annotations

import json
import time
import tomllib
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import httpx
import pytest
from newsroom import HUGE_LENGTH, SEEDS_DIR, STOP_SECONDS, TRAPS, Feed, Newsroom


@pytest.fixture(scope="module")
def room() -> Iterator[Newsroom]:
    with Newsroom() as served:
        yield served


@pytest.fixture()
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def feed_links(feed: Feed, body: bytes) -> list[str]:
    """The article links of a feed document, read by the parser each format needs."""
    if feed.format == "json":  # feedparser 6.0 does not read JSON Feed
        return [item["url"] for item in json.loads(body)["items"]]
    if feed.format == "sitemap":
        ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
        return [loc.text or "" for loc in ElementTree.fromstring(body).iter(f"{ns}loc")]
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [entry.link for entry in parsed.entries]


# ---------------------------------------------------------------- content


def test_every_feed_lists_its_articles_in_its_format(room: Newsroom, client: httpx.Client) -> None:
    formats = {feed.format for feed in room.feeds}
    assert {"rss", "atom", "json", "rdf"} <= formats
    for feed in room.feeds:
        response = client.get(room.url(feed.path))
        assert response.status_code == 200
        expected = [room.feed_link(feed, room.article(slug)) for slug in feed.slugs]
        assert feed_links(feed, response.content) == expected, feed.id
        assert len(expected) >= 3


def test_feedparser_recognises_each_xml_format(room: Newsroom, client: httpx.Client) -> None:
    versions = {
        feed.format: feedparser.parse(client.get(room.url(feed.path)).content).version
        for feed in room.feeds
        if feed.format in ("rss", "atom", "rdf")
    }
    assert versions == {"rss": "rss20", "atom": "atom10", "rdf": "rss10"}


def test_seed_pages_carry_the_seed_text_inside_outlet_boilerplate(
    room: Newsroom, client: httpx.Client
) -> None:
    seeds = [a for a in room.articles if a.is_seed]
    assert sorted(a.seed for a in seeds) == sorted(p.name for p in SEEDS_DIR.glob("*.txt"))
    for article in seeds:
        page = client.get(room.url(article.path)).text
        lines = [ln.strip() for ln in (SEEDS_DIR / article.seed).read_text().splitlines()]
        skip = 0 if article.seed.startswith("000_") else 1  # 000 has no headline line
        assert list(article.paragraphs) == [ln for ln in lines if ln][skip:]
        assert all(f"<p>{escape(p)}</p>" in page for p in article.paragraphs)
        assert f">{escape(article.title)}</h1>" in page
        for marker in ('property="og:site_name"', 'name="author"', 'rel="canonical"',
                       'property="article:published_time"', "cookie"):
            assert marker in page, (article.slug, marker)


def test_headline_less_seed_gets_a_title_on_its_page_only(room: Newsroom) -> None:
    article = room.article("sn-pause-flawed-logic")
    first_line = (SEEDS_DIR / "000_d585a1059fbc3ad9.txt").read_text().splitlines()[0]
    assert article.paragraphs[0] == first_line.strip()
    assert article.title and article.title not in article.text


def test_copies_differ_in_boilerplate_and_headline_not_in_text(room: Newsroom) -> None:
    copies = [a for a in room.articles if a.copy_of]
    assert len(copies) >= 2
    trimmed = 0
    for copy in copies:
        original = room.article(copy.copy_of)
        assert copy.outlet != original.outlet and copy.title != original.title
        assert original.text.startswith(copy.text)
        trimmed += len(copy.text) < len(original.text)
        copy_page, original_page = room.route(copy.path).body, room.route(original.path).body
        assert copy_page != original_page
    assert trimmed >= 1


def test_feed_links_carry_tracking_while_canonical_is_clean(
    room: Newsroom, client: httpx.Client
) -> None:
    feed = room.feed("daily-circuit-all")
    article = room.article(feed.slugs[-1])
    link = room.feed_link(feed, article)
    assert "utm_source=" in link
    page = client.get(link).text
    assert f'<link rel="canonical" href="{room.url(article.canonical_path)}">' in page
    assert "utm_" not in article.canonical_path


def test_one_article_is_linked_from_two_feeds_with_different_links(room: Newsroom) -> None:
    listings: dict[str, set[str]] = {}
    for feed in room.feeds:
        for slug in feed.slugs:
            listings.setdefault(slug, set()).add(room.feed_link(feed, room.article(slug)))
    assert any(len(links) >= 2 for links in listings.values())


def test_topic_mix_and_dates(room: Newsroom) -> None:
    written = [a for a in room.articles if not a.seed and not a.copy_of]
    assert sum(a.on_topic for a in written) >= 3
    assert sum(not a.on_topic for a in written) >= 4
    months = {(a.published.year, a.published.month) for a in room.articles}
    assert months == {(2026, 5), (2026, 6)}
    assert all(a.published.tzinfo == timezone.utc for a in room.articles)


def test_feed_redirect_link_leads_to_the_page(room: Newsroom, client: httpx.Client) -> None:
    article = next(a for a in room.articles if a.redirect)
    feed = next(f for f in room.feeds if article.slug in f.slugs and f.format != "sitemap")
    response = client.get(room.feed_link(feed, article), follow_redirects=True)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [301]
    assert response.url.path == article.path


def test_publish_adds_a_late_article_to_the_feed() -> None:
    with Newsroom() as room, httpx.Client(timeout=5) as http:
        late = next(a for a in room.articles if a.late)
        feed = next(f for f in room.feeds if f.outlet == late.outlet)
        first = http.get(room.url(feed.path))
        assert room.feed_link(feed, late) not in feed_links(feed, first.content)
        room.publish(late.slug)
        second = http.get(room.url(feed.path), headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 200
        assert feed_links(feed, second.content)[0] == room.feed_link(feed, late)


# ---------------------------------------------------------------- HTTP behaviour


def test_if_none_match_gives_304_without_body(room: Newsroom, client: httpx.Client) -> None:
    path = room.feed("northgate-courier-rss").path
    first = client.get(room.url(path))
    again = client.get(room.url(path), headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    stale = client.get(room.url(path), headers={"If-None-Match": '"not-the-tag"'})
    assert stale.status_code == 200


def test_if_modified_since_gives_304_only_when_not_newer(
    room: Newsroom, client: httpx.Client
) -> None:
    path = room.feed("fintech-wire-json").path
    first = client.get(room.url(path))
    assert "etag" not in first.headers
    same = client.get(room.url(path), headers={"If-Modified-Since": first.headers["last-modified"]})
    before = "Mon, 01 Jun 2026 00:00:00 GMT"
    older = client.get(room.url(path), headers={"If-Modified-Since": before})
    assert (same.status_code, older.status_code) == (304, 200)


def test_gzip_route_is_encoded_only_when_accepted(room: Newsroom, client: httpx.Client) -> None:
    path = room.feed("daily-circuit-all").path
    encoded = client.get(room.url(path), headers={"Accept-Encoding": "gzip"})
    plain = client.get(room.url(path), headers={"Accept-Encoding": "identity"})
    assert encoded.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert encoded.content == plain.content == room.route(path).body


def test_requests_are_recorded_with_headers(room: Newsroom, client: httpx.Client) -> None:
    path = "/robots.txt"
    before = len(room.requests_for(path))
    client.get(room.url(path + "?probe=1"), headers={"User-Agent": "newsroom-probe/1"})
    recorded = room.requests_for(path)[before:]
    assert len(recorded) == 1
    assert recorded[0].method == "GET" and recorded[0].target == path + "?probe=1"
    assert recorded[0].headers["user-agent"] == "newsroom-probe/1"
    # The server marks the request answered just after the last byte left, which can be
    # a moment after the client has read it: wait for the mark, briefly.
    deadline = time.monotonic() + 2
    while room.requests_for(path)[before:][0].finished is None and time.monotonic() < deadline:
        time.sleep(0.01)
    recorded = room.requests_for(path)[before:]
    assert recorded[0].finished is not None and recorded[0].finished >= recorded[0].time


def test_set_and_remove_route(room: Newsroom, client: httpx.Client) -> None:
    room.set_route("/extra/page", body="<p>hello</p>", headers={"X-Test": "1"}, status=202)
    response = client.get(room.url("/extra/page"))
    answer = (response.status_code, response.text, response.headers["x-test"])
    assert answer == (202, "<p>hello</p>", "1")
    room.remove_route("/extra/page")
    assert client.get(room.url("/extra/page")).status_code == 404


def test_stall_is_cut_by_the_client_and_by_stop() -> None:
    room = Newsroom().start()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(room.url(TRAPS["stall"]), timeout=0.5)
    assert len(room.requests_for(TRAPS["stall"])) == 1
    started = time.monotonic()
    room.stop()
    # stop() waits up to STOP_SECONDS for the stalled handler: it must be woken at once.
    assert time.monotonic() - started < STOP_SECONDS / 2


def test_drip_answers_every_read_quickly_but_never_finishes(
    room: Newsroom, client: httpx.Client
) -> None:
    with client.stream("GET", room.url(TRAPS["drip"]), timeout=0.5) as response:
        declared = int(response.headers["content-length"])
        received = 0
        for chunk in response.iter_raw():  # each read well inside the 0.5 s read timeout
            received += len(chunk)
            if received >= 48:
                break
    assert 48 <= received < declared


def test_failing_routes(room: Newsroom, client: httpx.Client) -> None:
    assert client.get(room.url(TRAPS["server-error"])).status_code == 500
    busy = client.get(room.url(TRAPS["busy"]))
    assert (busy.status_code, busy.headers["retry-after"]) == (503, "120")
    assert client.get(room.url(TRAPS["not-found"])).status_code == 404
    broken = feedparser.parse(client.get(room.url(TRAPS["broken-xml"])).content)
    assert broken.bozo and broken.entries == []
    truncated = feedparser.parse(client.get(room.url(TRAPS["truncated"])).content)
    assert truncated.bozo and len(truncated.entries) >= 1


def test_redirect_traps(room: Newsroom, client: httpx.Client) -> None:
    with pytest.raises(httpx.TooManyRedirects):
        client.get(room.url(TRAPS["redirect-loop"]), follow_redirects=True)
    chain = httpx.Client(max_redirects=10, timeout=5)
    with chain:
        long = chain.get(room.url(TRAPS["too-many-redirects"]), follow_redirects=True)
        short = chain.get(room.url("/trap/ok-hop/1"), follow_redirects=True)
    assert (len(long.history), len(short.history)) == (6, 3)
    assert long.status_code == short.status_code == 200
    location = client.get(room.url(TRAPS["bad-redirect"])).headers["location"]
    assert location.startswith("file:")


def test_huge_declared_length_is_a_lie(room: Newsroom, client: httpx.Client) -> None:
    with client.stream("GET", room.url(TRAPS["huge"])) as response:
        assert int(response.headers["content-length"]) == HUGE_LENGTH
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()


def test_gzip_bomb_inflates_past_the_default_cap(room: Newsroom, client: httpx.Client) -> None:
    with client.stream("GET", room.url(TRAPS["bomb"])) as response:
        assert response.headers["content-encoding"] == "gzip"
        compressed = b"".join(response.iter_raw())
    inflater = zlib.decompressobj(31)
    inflated = 0
    for start in range(0, len(compressed), 4096):  # bounded steps: never hold it all
        inflated += len(inflater.decompress(compressed[start : start + 4096]))
    assert len(compressed) < 1 << 20 and inflated > 15 * (1 << 20)


# ---------------------------------------------------------------- configuration


def test_write_config_points_at_the_room(room: Newsroom, tmp_path: Path) -> None:
    bad = room.add_bad_sources()
    config = room.write_config(tmp_path / "config", tmp_path / "wh" / "newswatch.duckdb")
    settings = tomllib.loads((config / "newswatch.toml").read_text())
    sources = tomllib.loads((config / "sources.toml").read_text())
    assert settings["http"]["allow_networks"] == ["127.0.0.0/8", "::1/128"]
    assert Path(settings["warehouse"]["path"]).is_absolute()
    ids = {s["id"] for s in sources["source"]}
    assert {f.id for f in room.feeds if not f.optional} | set(bad.values()) == ids
    assert all(s["url"].startswith(room.base_url + "/") for s in sources["source"])
    prefixes = {o["id"]: o["url_prefixes"] for o in sources["outlet"]}
    assert prefixes["fintech-wire"] == [room.base_url + "/fintech-wire/"]
    stories = list((config / "stories").glob("*.toml"))
    assert stories
    for story in stories:
        assert tomllib.loads(story.read_text())["reference"] == str(SEEDS_DIR.resolve())


def test_write_config_without_loopback(room: Newsroom, tmp_path: Path) -> None:
    config = room.write_config(tmp_path, tmp_path / "w.duckdb", allow_loopback=False,
                               http={"max_body_bytes": 1000})
    http = tomllib.loads((config / "newswatch.toml").read_text())["http"]
    assert (http["allow_networks"], http["max_body_bytes"]) == ([], 1000)


def test_published_dates_match_the_page(room: Newsroom) -> None:
    article = room.article("nc-pause-brief")  # an outlet publishing in local time
    page = room.route(article.path).body.decode()
    marker = 'property="article:published_time" content="'
    stamp = page.split(marker, 1)[1].split('"', 1)[0]
    assert datetime.fromisoformat(stamp) == article.published
    assert not stamp.endswith("+00:00")
