"""discover: feeds declared by HTML pages, common feed paths, sniffing what a URL serves."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pipeline.acquire import discover
from pipeline.acquire.discover import DiscoveredFeed

FEEDS = Path(__file__).parent / "data" / "feeds"
SITE = "https://www.leftcolumn.example"


def read(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def test_discover_feeds_from_a_page() -> None:
    found = discover.discover_feeds(read("page.html"), f"{SITE}/opinion/some-article")
    assert found == [
        DiscoveredFeed(f"{SITE}/feed/", "The Left Column » Feed", "application/rss+xml"),
        # relative to <base href>, rel with two tokens, type in capitals with parameters
        DiscoveredFeed(f"{SITE}/opinion/atom.xml", "Opinion (Atom)", "application/atom+xml"),
        DiscoveredFeed(f"{SITE}/opinion/feed.json", "Opinion (JSON Feed)",
                       "application/feed+json"),
        DiscoveredFeed(f"{SITE}/late.atom", "Late link in body", "application/atom+xml"),
        # comment feeds last, whatever their place in the page
        DiscoveredFeed(f"{SITE}/comments/feed/", "The Left Column » Comments Feed",
                       "application/rss+xml"),
    ]


def test_discover_feeds_accepts_text_and_uses_the_page_url_without_base() -> None:
    html = ('<html><head><link rel="alternate" type="application/rss+xml" href="rss.xml">'
            '<link rel="alternate" type="application/json" href="/api/feed.json">'
            "</head><body></body></html>")
    found = discover.discover_feeds(html, "https://small.example/blog/post-1")
    assert [(f.url, f.title, f.type) for f in found] == [
        ("https://small.example/blog/rss.xml", None, "application/rss+xml"),
        ("https://small.example/api/feed.json", None, "application/json"),
    ]


def test_discover_feeds_decodes_the_declared_charset() -> None:
    html = ('<html><head><meta charset="iso-8859-1">'
            '<link rel="alternate" type="application/rss+xml" title="Actualités" href="/rss">'
            "</head></html>").encode("latin-1")
    found = discover.discover_feeds(html, "https://fr.example/")
    assert [f.title for f in found] == ["Actualités"]


def test_a_page_without_feed_links_gives_nothing() -> None:
    html = b'<html><head><link rel="stylesheet" href="/a.css"></head><body>hi</body></html>'
    assert discover.discover_feeds(html, "https://plain.example/") == []


def test_candidate_feed_urls_at_the_root() -> None:
    urls = discover.candidate_feed_urls("https://site.example/")
    assert urls == ["https://site.example" + p for p in discover.COMMON_FEED_PATHS]
    assert "https://site.example/feed" in urls and "https://site.example/rss.xml" in urls


def test_candidate_feed_urls_under_a_section_come_first() -> None:
    urls = discover.candidate_feed_urls("https://site.example/blog/2026/post.html")
    n = len(discover.COMMON_FEED_PATHS)
    assert urls[:n] == ["https://site.example/blog/2026" + p for p in discover.COMMON_FEED_PATHS]
    assert urls[n:] == ["https://site.example" + p for p in discover.COMMON_FEED_PATHS]


@pytest.mark.parametrize(("name", "content_type", "kind"), [
    ("rss20_relative.xml", "application/rss+xml", "feed"),
    ("rss20_relative.xml", "text/html", "feed"),  # the body wins over a wrong label
    ("rss091.xml", None, "feed"),  # DOCTYPE before the root
    ("rss10_rdf.xml", None, "feed"),
    ("atom_xml_base.xml", "application/xml", "feed"),
    ("bozo_entity.xml", None, "feed"),
    ("jsonfeed11.json", "application/feed+json", "json-feed"),
    ("gdelt_artlist.json", "application/json", "search-json"),
    ("news_sitemap.xml", "text/xml", "sitemap"),
    ("sitemap_index.xml", None, "sitemap"),  # stylesheet PI and comment first
    ("page.html", "text/html; charset=utf-8", "page"),
    ("page.html", None, "page"),
    ("not_xml.txt", "text/plain", "unknown"),
])
def test_sniff_kind_of_golden_files(name: str, content_type: str | None, kind: str) -> None:
    assert discover.sniff_kind(read(name), content_type) == kind


@pytest.mark.parametrize(("body", "content_type", "kind"), [
    (b"", None, "unknown"),
    (b"<div>a fragment</div>", "text/html", "page"),
    (b"<div>a fragment</div>", None, "unknown"),
    (b'{"version": "1.0", "items": []}', "application/json", "unknown"),
    (b"{not json", "application/json", "unknown"),
    (b"{}", "application/json", "search-json"),
    ('<?xml version="1.0" encoding="utf-16"?><rss version="2.0"></rss>'.encode("utf-16"),
     None, "feed"),
    (b"\xef\xbb\xbf<feed xmlns='http://www.w3.org/2005/Atom'/>", None, "feed"),
    (b"<!DOCTYPE x [<!ENTITY a 'b>c'>]><rdf:RDF/>", None, "feed"),
    (b"<!-- never closed " + b"x" * 100, None, "unknown"),
])
def test_sniff_kind_edge_cases(body: bytes, content_type: str | None, kind: str) -> None:
    assert discover.sniff_kind(body, content_type) == kind


def test_sniff_kind_looks_inside_gzip() -> None:
    assert discover.sniff_kind(gzip.compress(read("news_sitemap.xml")), None) == "sitemap"
    assert discover.sniff_kind(gzip.compress(read("jsonfeed11.json")), None) == "json-feed"


def test_sniff_kind_of_a_large_gzip_json_feed_reads_its_head() -> None:
    items = ",".join(f'{{"id": "{n}", "url": "https://big.example/{n}", "title": "Item {n}"}}'
                     for n in range(5000))
    body = ('{"version": "https://jsonfeed.org/version/1.1", "title": "Big", '
            f'"items": [{items}]}}').encode()
    assert len(body) > 128 * 1024  # more than the sniffer inflates
    assert discover.sniff_kind(gzip.compress(body), "application/gzip") == "json-feed"
