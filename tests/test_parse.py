"""parse: feed documents (golden files in tests/data/feeds/) -> ParsedFeed."""

from __future__ import annotations

import gzip
import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.acquire import feeds as parse
from pipeline.errors import ParseError

FEEDS = Path(__file__).parent / "data" / "feeds"
UTC = timezone.utc
LEDGER = "https://www.dailyledger.example/world/feed.xml"


def read(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def sha16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rss(items: list[str], title: str = "Generated") -> bytes:
    body = "".join(items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://gen.example/</link>{body}"
            f"</channel></rss>").encode()


def item(n: int, *, link: str | None = None, guid: bool = True) -> str:
    link = link or f"https://gen.example/story/{n}"
    guid_xml = f'<guid isPermaLink="false">gen-{n}</guid>' if guid else ""
    return f"<item><title>Story {n}</title><link>{link}</link>{guid_xml}</item>"


# --- RSS 2.0: links, keys, dates -------------------------------------------------------

def test_rss20_relative_links_resolve_against_the_feed_url() -> None:
    feed = parse.parse_feed(read("rss20_relative.xml"), LEDGER, "application/rss+xml")
    assert feed.kind == "rss"
    assert feed.link == "https://www.dailyledger.example/world/"
    assert [e.url for e in feed.entries] == [
        "https://www.dailyledger.example/world/2026/06/04/harbour-strike-third-week",
        "https://www.dailyledger.example/world/2026/06/04/rail-fares",
        "https://www.dailyledger.example/world/live/election-count?page=1",
        "https://www.dailyledger.example/world/live/election-count?page=2",
        "https://culture.dailyledger.example/2026/06/03/panels",
        "https://www.dailyledger.example/weather/2026/06/03/coast-warning",
        None,  # "Corrections and clarifications": no link, kept for its title
    ]


def test_rss20_key_rules_guid_then_link_then_title() -> None:
    feed = parse.parse_feed(read("rss20_relative.xml"), LEDGER)
    keys = [e.key for e in feed.entries]
    # Unique GUIDs give "g:" keys made from the GUID itself.
    assert keys[0] == "g:" + sha16("ledger-88121")
    assert keys[1] == "g:" + sha16("ledger-88120")
    # "ledger-live" is used twice in the document: both fall back to their links.
    assert keys[2] == "l:" + sha16(feed.entries[2].url or "")
    assert keys[3] == "l:" + sha16(feed.entries[3].url or "")
    # No GUID: link hash; no GUID and no link: title + date hash.
    assert keys[4].startswith("l:") and keys[5].startswith("l:")
    assert keys[6] == "t:" + sha16("Corrections and clarifications\n2026-06-02T10:00:00+00:00")
    assert len(set(keys)) == len(keys)
    assert feed.entries[0].guid == "ledger-88121"


def test_rss20_entry_with_neither_link_nor_title_is_dropped() -> None:
    feed = parse.parse_feed(read("rss20_relative.xml"), LEDGER)
    assert len(feed.entries) == 7
    assert feed.dropped == 1


def test_keys_are_stable_across_polls_when_new_items_arrive() -> None:
    first = parse.parse_feed(read("rss20_relative.xml"), LEDGER)
    again = parse.parse_feed(read("rss20_relative.xml"), LEDGER)
    assert [e.key for e in first.entries] == [e.key for e in again.entries]
    newer = read("rss20_relative.xml").replace(
        b"<item>", b"<item><title>Breaking</title><link>/world/breaking</link></item><item>", 1)
    later = parse.parse_feed(newer, LEDGER)
    assert [e.key for e in later.entries[1:]] == [e.key for e in first.entries]


def test_dates_are_aware_utc() -> None:
    feed = parse.parse_feed(read("rss20_relative.xml"), LEDGER)
    dates = [e.published for e in feed.entries]
    assert all(d is not None and d.tzinfo == UTC for d in dates)
    assert dates[0] == datetime(2026, 6, 4, 16, 5, tzinfo=UTC)  # 17:05 +0100
    assert dates[2] == datetime(2026, 6, 4, 13, 0, tzinfo=UTC)  # 09:00 -0400


def test_summary_is_plain_text() -> None:
    feed = parse.parse_feed(read("rss20_relative.xml"), LEDGER)
    assert feed.entries[0].summary == "Dock workers rejected the latest offer & vowed to stay out."
    assert feed.entries[0].author == "Amara Okafor"


def test_identical_entries_get_distinct_deterministic_keys() -> None:
    twin = "<item><title>Same</title><pubDate>Thu, 04 Jun 2026 10:00:00 GMT</pubDate></item>"
    feed = parse.parse_feed(rss([twin, twin, twin]), "https://gen.example/rss")
    keys = [e.key for e in feed.entries]
    base = "t:" + sha16("Same\n2026-06-04T10:00:00+00:00")
    assert keys == [base, base + ".2", base + ".3"]


# --- other dialects --------------------------------------------------------------------

def test_rss091_latin1_with_netscape_doctype() -> None:
    feed = parse.parse_feed(read("rss091.xml"), "https://valleygazette.example/rss.xml",
                            "text/xml")
    assert feed.kind == "rss"
    assert [e.title for e in feed.entries] == [
        "Fête du village : le programme", "Travaux sur la route départementale"]
    assert all(e.key.startswith("l:") and e.published is None for e in feed.entries)


def test_rss10_rdf() -> None:
    feed = parse.parse_feed(read("rss10_rdf.xml"), "https://sciencewire.example/rss")
    assert feed.kind == "rdf"
    assert feed.entries[0].published == datetime(2026, 6, 3, 22, 30, tzinfo=UTC)  # +09:00
    assert feed.entries[1].published == datetime(2026, 6, 3, tzinfo=UTC)
    assert feed.entries[0].author == "Kenji Watanabe"
    assert feed.entries[0].guid == "https://sciencewire.example/n/2026/0604-coral"


def test_atom_xml_base_resolution_authors_and_dates() -> None:
    feed = parse.parse_feed(read("atom_xml_base.xml"), "https://blog.northlab.example/feed.atom",
                            "application/atom+xml")
    assert feed.kind == "atom"
    assert [e.url for e in feed.entries] == [
        "https://blog.northlab.example/research/posts/scaling-evaluations",
        "https://notes.northlab.example/2026/june/workshop-notes",
        "https://blog.northlab.example/reading-list#june",
    ]
    first, second, _ = feed.entries
    assert first.title == "Scaling evaluations for agents"  # type="html" markup removed
    assert first.published == datetime(2026, 6, 4, 12, 0, tzinfo=UTC)  # published, not updated
    assert second.published == datetime(2026, 6, 2, 9, 15, 30, tzinfo=UTC)  # updated only
    assert second.author == "Sam Ortiz, Priya Nair"


def test_json_feed_11() -> None:
    feed = parse.parse_feed(read("jsonfeed11.json"), "https://quillbyte.example/feed.json",
                            "application/feed+json")
    assert (feed.kind, feed.title) == ("json", "Quill & Byte")
    assert feed.link == "https://quillbyte.example/"
    assert [e.url for e in feed.entries] == [
        "https://quillbyte.example/2026/06/04/chips",
        "https://elsewhere.example/analysis/energy-use",  # external_url when no url
        "https://quillbyte.example/2026/06/02/podcast-episode-41",  # relative url resolved
    ]
    assert [e.published for e in feed.entries] == [
        datetime(2026, 6, 4, 18, 20, tzinfo=UTC), datetime(2026, 6, 3, 8, 0, tzinfo=UTC),
        datetime(2026, 6, 2, 16, 45, tzinfo=UTC)]  # the last from date_modified
    assert feed.entries[0].author == "Dana Lee, Omar Haddad"
    assert feed.entries[2].author == "Quill & Byte Radio"  # 1.0-style "author"
    assert feed.entries[2].key == "g:" + sha16("1234")  # numeric id
    assert feed.dropped == 1  # the item with neither title nor url


def test_json_feed_10_detected_by_body_without_content_type() -> None:
    body = (b'{"version": "https://jsonfeed.org/version/1", "title": "Old", "items": '
            b'[{"id": "a", "url": "https://old.example/a", "title": "A"}]}')
    feed = parse.parse_feed(body, "https://old.example/feed.json")
    assert feed.kind == "json" and [e.url for e in feed.entries] == ["https://old.example/a"]


# --- bozo and failures -----------------------------------------------------------------

def test_bozo_feed_with_entries_warns_instead_of_failing() -> None:
    feed = parse.parse_feed(read("bozo_entity.xml"), "https://metrocourier.example/rss")
    assert len(feed.entries) == 2
    assert feed.entries[0].title == "Bus & tram timetables change on Monday"
    assert feed.entries[0].url == "https://metrocourier.example/news/timetables?id=5512&ref=rss"
    assert len(feed.warnings) == 1 and "line 4" in feed.warnings[0]


def test_a_feed_cut_short_loses_its_possibly_cut_last_entry() -> None:
    whole = rss([item(1), item(2), item(3)])
    cut = whole[: whole.index(b"gen-3") + 4]  # ends inside the third GUID: "gen-"
    feed = parse.parse_feed(cut, "https://gen.example/rss")
    assert [e.guid for e in feed.entries] == ["gen-1", "gen-2"]
    assert feed.dropped == 1
    assert "document ends early: its last entry was left out" in feed.warnings


@pytest.mark.parametrize(("body", "expected"), [
    (b"", "not a feed: empty body"),
    (b" \n\t ", "not a feed: empty body"),
    (read("page.html"), "not a feed: looks like an HTML page"),
    (read("broken_nothing.xml"), "not a feed: broken XML at line 4"),
    (read("not_xml.txt"), "not a feed: not XML; body starts 'Service temporarily"),
    (read("news_sitemap.xml"), "not a feed: looks like a sitemap"),
    (b'{"items": []}', "not a feed: JSON without a \"version\""),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "broken JSON at line 1"),
    (b"<?xml version='1.0'?><catalog><book/></catalog>",
     "not a feed: root element <catalog> is not RSS, Atom or RDF"),
])
def test_documents_that_are_not_feeds_raise_a_clear_parse_error(body: bytes,
                                                                expected: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse.parse_feed(body, "https://bad.example/feed")
    assert str(caught.value).startswith(expected)
    assert caught.value.url == "https://bad.example/feed"
    assert caught.value.kind == "parse"


def test_a_valid_feed_without_items_is_empty_not_an_error() -> None:
    feed = parse.parse_feed(rss([]), "https://gen.example/rss")
    assert feed.entries == () and feed.warnings == () and feed.title == "Generated"


def test_a_path_or_url_in_the_body_is_never_opened(tmp_path: Path) -> None:
    real_feed = tmp_path / "feed.xml"
    real_feed.write_bytes(rss([item(1)]))
    for body in (str(real_feed).encode(), real_feed.as_uri().encode()):
        with pytest.raises(ParseError, match="not XML"):
            parse.parse_feed(body, "https://gen.example/rss")


# --- caps ------------------------------------------------------------------------------

def test_at_most_max_entries_are_kept_first_in_document_order() -> None:
    feed = parse.parse_feed(rss([item(n) for n in range(2500)]), "https://gen.example/rss")
    assert len(feed.entries) == 2000
    assert feed.dropped == 500
    assert feed.entries[0].url == "https://gen.example/story/0"
    assert feed.entries[-1].url == "https://gen.example/story/1999"
    assert len({e.key for e in feed.entries}) == 2000


def test_max_entries_is_a_parameter() -> None:
    feed = parse.parse_feed(rss([item(n) for n in range(30)]), "https://gen.example/rss",
                            max_entries=5)
    assert [e.title for e in feed.entries] == [f"Story {n}" for n in range(5)]
    assert feed.dropped == 25


def test_over_long_urls_are_dropped() -> None:
    long_link = "https://gen.example/story?q=" + "x" * 3000
    feed = parse.parse_feed(rss([item(1, link=long_link), item(2)]), "https://gen.example/rss")
    assert [e.url for e in feed.entries] == ["https://gen.example/story/2"]
    assert feed.dropped == 1
    short = parse.parse_feed(rss([item(1), item(2)]), "https://gen.example/rss",
                             max_url_length=len("https://gen.example/story/1") - 1)
    assert short.entries == () and short.dropped == 2


def test_non_http_links_count_as_missing() -> None:
    items = ["<item><title>Mail us</title><link>mailto:desk@gen.example</link></item>",
             "<item><link>javascript:alert(1)</link></item>"]
    feed = parse.parse_feed(rss(items), "https://gen.example/rss")
    assert [(e.url, e.title) for e in feed.entries] == [(None, "Mail us")]
    assert feed.dropped == 1


# --- aggregators -----------------------------------------------------------------------

def test_google_news_items_keep_token_links_unresolved_with_publisher_claims() -> None:
    feed = parse.parse_feed(read("googlenews.xml"), "https://news.google.com/rss/search?q=x")
    first, second, third = feed.entries
    assert first.unresolved and second.unresolved
    assert first.url is not None and first.url.startswith("https://news.google.com/rss/articles/")
    assert (first.publisher_name, first.publisher_url) == (
        "The Pacific Herald", "https://www.pacificherald.example")
    assert second.publisher_url == "https://techbrief.example"
    # A google.com/url wrapper inside the same feed is unwrapped (and %3F decoded).
    assert third.url == "https://www.marketticker.example/2026/06/04/analysts-react?utm_source=gn"
    assert not third.unresolved


def test_google_alerts_atom_links_are_unwrapped() -> None:
    feed = parse.parse_feed(read("google_alerts.atom"), "https://www.google.com/alerts/feeds/1/2")
    assert [e.url for e in feed.entries] == [
        "https://www.theobserverpost.example/tech/2026/jun/04/rsi-worries",
        "https://opinions.example/brakes",  # q= form
    ]
    assert feed.entries[0].title == "Why recursive self-improvement worries researchers"
    assert feed.entries[0].author is None  # <author><name/></author>


def test_bing_news_apiclick_links_are_unwrapped_and_source_kept() -> None:
    feed = parse.parse_feed(read("bing_news.xml"),
                            "https://www.bing.com/news/search?q=ai+pause&format=rss")
    assert [e.url for e in feed.entries] == [
        "https://www.globalwire.example/tech/researchers-debate-pause-2026-06-04/",
        "https://moneydaily.example/markets/2026/06/04/pause-talk",
    ]
    assert [e.publisher_name for e in feed.entries] == ["Global Wire", "Money Daily"]
    # No GUIDs: the keys come from the unwrapped links, so Bing's tracking ids do not matter.
    assert feed.entries[0].key == "l:" + sha16(feed.entries[0].url or "")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://www.google.com/url?sa=t&url=https%3A%2F%2Fa.example%2Fx%3Fy%3D1&usg=z",
     ("https://a.example/x?y=1", False)),
    ("https://www.google.co.uk/url?q=https://b.example/p&sa=U", ("https://b.example/p", False)),
    ("http://www.bing.com:443/news/apiclick.aspx?ref=FexRss&url=https%3a%2f%2fc.example%2f&c=1",
     ("https://c.example/", False)),
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fd.example%2Fstory&h=AT0",
     ("https://d.example/story", False)),
    ("https://news.google.com/rss/articles/CBMiTOKEN?oc=5",
     ("https://news.google.com/rss/articles/CBMiTOKEN?oc=5", True)),
    ("https://news.google.com/articles/CBMiTOKEN",
     ("https://news.google.com/articles/CBMiTOKEN", True)),
    # A wrapper around a Google News token: unwrapped, and still unresolved.
    ("https://www.google.com/url?url=https://news.google.com/rss/articles/CBMi",
     ("https://news.google.com/rss/articles/CBMi", True)),
    # ?url= on a host that is not a known aggregator stays as it is.
    ("https://share.example/post?url=https://e.example/",
     ("https://share.example/post?url=https://e.example/", False)),
    # A wrapper whose target is not http(s) is left alone.
    ("https://www.google.com/url?q=javascript:alert(1)",
     ("https://www.google.com/url?q=javascript:alert(1)", False)),
    ("https://news.google.com/topics/CAAqBwgKMP",
     ("https://news.google.com/topics/CAAqBwgKMP", False)),
])
def test_unwrap_link(url: str, expected: tuple[str, bool]) -> None:
    assert parse.unwrap_link(url) == expected


# --- GDELT-style search JSON -----------------------------------------------------------

GDELT = "https://api.gdelt.example/api/v2/doc/doc?query=pause&mode=artlist&format=json"


def test_search_json_articles() -> None:
    feed = parse.parse_search_json(read("gdelt_artlist.json"), GDELT)
    assert feed.kind == "search-json"
    assert [e.title for e in feed.entries] == [
        "European regulators weigh a pause clause", "Faut-il pouvoir mettre l'IA en pause ?",
        "European regulators weigh a pause clause (update)"]
    assert feed.entries[0].published == datetime(2026, 6, 4, 14, 15, tzinfo=UTC)
    assert feed.entries[1].publisher_name == "nouvelles.example"
    assert feed.dropped == 1  # empty url and title
    # The same URL twice in one answer: neither may claim the link key.
    assert [e.key[:2] for e in feed.entries] == ["t:", "l:", "t:"]
    assert feed.entries[0].key != feed.entries[2].key


def test_search_json_empty_and_text_answers() -> None:
    assert parse.parse_search_json(b"{}", GDELT).entries == ()
    with pytest.raises(ParseError, match="search API answered with text: 'Your search"):
        parse.parse_search_json(b"Your search contained a keyword that was too short.", GDELT)


# --- dispatcher ------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content_type", "kind", "count"), [
    ("rss20_relative.xml", "text/html; charset=utf-8", "rss", 7),  # mislabelled feed
    ("atom_xml_base.xml", None, "atom", 3),
    ("rss10_rdf.xml", "application/rdf+xml", "rdf", 2),
    ("jsonfeed11.json", "application/json", "json", 3),
    ("gdelt_artlist.json", "application/json; charset=utf-8", "search-json", 3),
    ("news_sitemap.xml", "application/xml", "sitemap", 4),
])
def test_parse_document_picks_the_reader(name: str, content_type: str | None, kind: str,
                                         count: int) -> None:
    feed = parse.parse_document(read(name), "https://www.eveningpost.example/x", content_type)
    assert (feed.kind, len(feed.entries)) == (kind, count)


def test_parse_document_sitemap_index_and_gzip() -> None:
    index = parse.parse_document(read("sitemap_index.xml"),
                                 "https://www.eveningpost.example/sitemap_index.xml")
    assert index.kind == "sitemap-index" and len(index.children) == 4 and index.entries == ()
    packed = parse.parse_document(gzip.compress(read("news_sitemap.xml")),
                                  "https://www.eveningpost.example/news.xml.gz",
                                  since=datetime(2026, 6, 1, tzinfo=UTC))
    assert packed.kind == "sitemap" and len(packed.entries) == 3  # cup final is older


def test_parse_document_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"<rss>" + b" " * (4 * 1024 * 1024))
    with pytest.raises(ParseError) as caught:
        parse.parse_document(bomb, "https://gen.example/rss.gz", max_bytes=1024 * 1024)
    assert caught.value.kind == "too_large"
