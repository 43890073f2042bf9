"""sitemap: news sitemaps, indexes, gzip, robots.txt (golden files in tests/data/feeds/)."""

from __future__ import annotations

import gzip
import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.acquire import sitemaps as sitemap
from pipeline.errors import ParseError

FEEDS = Path(__file__).parent / "data" / "feeds"
UTC = timezone.utc
SITE = "https://www.eveningpost.example"
JUNE_1 = datetime(2026, 6, 1, tzinfo=UTC)


def read(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def urlset(urls: list[tuple[str, str | None]]) -> bytes:
    rows = "".join(f"<url><loc>{u}</loc>" + (f"<lastmod>{d}</lastmod>" if d else "") + "</url>"
                   for u, d in urls)
    return (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{rows}</urlset>").encode()


def test_news_sitemap_entries() -> None:
    doc = sitemap.parse_sitemap(read("news_sitemap.xml"), f"{SITE}/news-sitemap.xml")
    assert doc.kind == "urlset" and doc.children == ()
    assert [e.url for e in doc.entries] == [
        f"{SITE}/politics/2026/06/04/pause-vote",
        f"{SITE}/business/2026/06/03/chip-stocks?src=news&ed=uk",
        f"{SITE}/sport/2026/05/20/cup-final",
        f"{SITE}/about/contact",
    ]
    first, second, third, fourth = doc.entries
    assert first.title == "MPs call for a vote on an AI pause"
    assert first.publisher_name == "The Evening Post"
    # news:publication_date wins over lastmod; both converted to UTC.
    assert first.published == datetime(2026, 6, 4, 16, 55, tzinfo=UTC)
    assert second.title == "Chip stocks slide & recover"
    assert second.published == datetime(2026, 6, 3, tzinfo=UTC)
    assert third.published == datetime(2026, 5, 20, 22, 0, tzinfo=UTC)  # lastmod only
    assert fourth.published is None and fourth.title is None
    assert doc.dropped == 2  # the repeated pause-vote URL and the ftp: URL


def test_sitemap_keys_are_link_hashes() -> None:
    doc = sitemap.parse_sitemap(read("news_sitemap.xml"), f"{SITE}/news-sitemap.xml")
    for entry in doc.entries:
        assert entry.key == "l:" + hashlib.sha256((entry.url or "").encode()).hexdigest()[:16]
    assert len({e.key for e in doc.entries}) == len(doc.entries)


def test_since_skips_old_urls_and_keeps_undated_ones() -> None:
    doc = sitemap.parse_sitemap(read("news_sitemap.xml"), f"{SITE}/news-sitemap.xml",
                                since=JUNE_1)
    assert [e.url for e in doc.entries] == [
        f"{SITE}/politics/2026/06/04/pause-vote",
        f"{SITE}/business/2026/06/03/chip-stocks?src=news&ed=uk",
        f"{SITE}/about/contact",
    ]
    assert doc.skipped == 1


def test_sitemap_index_children() -> None:
    doc = sitemap.parse_sitemap(read("sitemap_index.xml"), f"{SITE}/sitemap_index.xml")
    assert doc.kind == "index" and doc.entries == ()
    assert doc.children == (
        f"{SITE}/sitemaps/2026-04.xml", f"{SITE}/sitemaps/2026-05.xml",
        f"{SITE}/sitemaps/2026-06.xml.gz",  # relative <loc> resolved
        f"{SITE}/sitemaps/news.xml",
    )
    assert doc.dropped == 1  # 2026-06.xml.gz listed twice


def test_sitemap_index_since_filters_by_lastmod() -> None:
    doc = sitemap.parse_sitemap(read("sitemap_index.xml"), f"{SITE}/sitemap_index.xml",
                                since=JUNE_1)
    assert doc.children == (f"{SITE}/sitemaps/2026-06.xml.gz", f"{SITE}/sitemaps/news.xml")
    assert doc.skipped == 2


def test_since_may_be_naive_utc() -> None:
    doc = sitemap.parse_sitemap(read("sitemap_index.xml"), f"{SITE}/sitemap_index.xml",
                                since=datetime(2026, 6, 1))
    assert len(doc.children) == 2


def test_over_the_cap_the_most_recent_are_kept_in_document_order() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    urls = [(f"https://old-first.example/{n}", (start + timedelta(days=n)).date().isoformat())
            for n in range(50)]
    urls.insert(10, ("https://old-first.example/undated", None))
    doc = sitemap.parse_sitemap(urlset(urls), "https://old-first.example/sitemap.xml",
                                max_entries=10)
    assert [e.url for e in doc.entries] == [f"https://old-first.example/{n}" for n in range(40, 50)]
    assert doc.dropped == 41


def test_gzip_sitemap_reads_like_the_plain_one() -> None:
    plain = sitemap.parse_sitemap(read("news_sitemap.xml"), f"{SITE}/news.xml")
    packed = sitemap.parse_sitemap(gzip.compress(read("news_sitemap.xml")), f"{SITE}/news.xml.gz")
    assert packed == plain


def test_gunzip_reads_concatenated_members() -> None:
    body = gzip.compress(b"<urlset>") + gzip.compress(b"</urlset>")
    assert sitemap.gunzip(body, "https://gz.example/s.gz") == b"<urlset></urlset>"


def test_gzip_bomb_is_refused_as_too_large() -> None:
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 64 * 1024  # small on the wire, 8 MiB inflated
    with pytest.raises(ParseError) as caught:
        sitemap.parse_sitemap(bomb, "https://gz.example/bomb.xml.gz", max_bytes=1024 * 1024)
    assert caught.value.kind == "too_large"
    assert "1048576 bytes" in str(caught.value)


def test_truncated_gzip_is_a_parse_error() -> None:
    body = gzip.compress(read("news_sitemap.xml"))[:200]
    with pytest.raises(ParseError, match="broken gzip"):
        sitemap.parse_sitemap(body, "https://gz.example/cut.xml.gz")


def test_bare_ampersands_are_repaired_with_a_warning() -> None:
    doc = sitemap.parse_sitemap(read("sitemap_broken_amp.xml"), "https://shop-news.example/s.xml")
    assert [e.url for e in doc.entries] == ["https://shop-news.example/a?x=1&y=2",
                                            "https://shop-news.example/b"]
    assert len(doc.warnings) == 1 and doc.warnings[0].startswith("broken XML at line 3")


def test_truncated_sitemap_keeps_what_it_read_with_a_warning() -> None:
    body = urlset([("https://cut.example/a", "2026-06-02"), ("https://cut.example/b", None)])
    doc = sitemap.parse_sitemap(body[:-30], "https://cut.example/sitemap.xml")
    assert [e.url for e in doc.entries] == ["https://cut.example/a"]  # not "https://cut."
    assert doc.dropped == 1
    assert len(doc.warnings) == 1 and "read leniently" in doc.warnings[0]


def test_entity_declarations_are_refused() -> None:
    with pytest.raises(ParseError, match="declares XML entities"):
        sitemap.parse_sitemap(read("sitemap_entities.xml"), "https://entities.example/s.xml")


@pytest.mark.parametrize(("body", "message"), [
    (b"", "not a sitemap: empty body"),
    (read("page.html"), "not a sitemap: looks like an HTML page"),
    (read("rss20_relative.xml"), "not a sitemap: root element <rss>"),
    (b"<?xml version='1.0'?>\n<urlset><ur", "not a sitemap: broken XML at line 2"),
])
def test_non_sitemaps_raise_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        sitemap.parse_sitemap(body, "https://x.example/sitemap.xml")
    assert str(caught.value).startswith(message)


def test_sitemaps_from_robots() -> None:
    found = sitemap.sitemaps_from_robots(read("robots.txt").decode(), f"{SITE}/robots.txt")
    assert found == [f"{SITE}/sitemap_index.xml", f"{SITE}/sitemaps/news.xml"]


@pytest.mark.parametrize(("text", "expected"), [
    ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
    ("2026-06", datetime(2026, 6, 1, tzinfo=UTC)),
    ("2026-06-04", datetime(2026, 6, 4, tzinfo=UTC)),
    ("2026-06-04T12:30Z", datetime(2026, 6, 4, 12, 30, tzinfo=UTC)),
    ("2026-06-04T12:30:15.250+02:00", datetime(2026, 6, 4, 10, 30, 15, 250000, tzinfo=UTC)),
    ("2026-06-04T12:30:15", datetime(2026, 6, 4, 12, 30, 15, tzinfo=UTC)),
    ("next Tuesday", None),
    ("", None),
    (None, None),
])
def test_w3c_datetime(text: str | None, expected: datetime | None) -> None:
    assert sitemap.w3c_datetime(text) == expected
