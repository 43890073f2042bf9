"""Every fetched article page is archived (WARC) and can be read again without fetching
(issue 9), through the real command: a page with only a copyright footer takes its feed's
date and counts in the story's window; a ZIP served as HTML is not an article; a feed date in 2099 is dropped;
``newswatch reextract`` brings old articles up to the current rules with zero requests."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import duckdb
from conftest import rewrite_sources, rows

from pipeline.content.archive import PageArchive, iter_responses, read_response
from pipeline.models import FetchResult

FEED_DATE = datetime(2026, 6, 6, 9, 30, tzinfo=timezone.utc)
PAGE_PATH = "/plain-gazette/ai-labs-pause.html"
ZIP_PATH = "/plain-gazette/annual-report.html"
FUTURE_PATH = "/plain-gazette/park-plan.html"  # its feed item is dated 2099
PARK = ("The council approved a new plan for the river park on Tuesday, after two years of hearings.",
        "Officials said work on the paths, the bridges and the wetland would start in the spring.",
        "Residents asked for more benches, better lighting and a safer crossing near the school.")


def _page(title: str, paragraphs: tuple[str, ...]) -> bytes:
    """An article page with no date metadata at all, only a copyright line, and no charset."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><title>{escape(title)} | Plain Gazette</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>{escape(title)}</h1>{body}</article>"
            "<footer>&copy; 2026 Plain Gazette Media Ltd. All rights reserved.</footer></body></html>").encode()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.txt", "Annual report. " * 2000)
    return buffer.getvalue()


def _publish(site) -> tuple[str, str]:
    room = site.room
    story = next(a for a in room.articles if a.on_topic and not a.is_seed and not a.copy_of)
    room.set_route(PAGE_PATH, body=_page(story.title, story.paragraphs), content_type="text/html")
    room.set_route(ZIP_PATH, body=_zip(), content_type="text/html")
    room.set_route(FUTURE_PATH, body=_page("River park plan", PARK), content_type="text/html")
    items = "".join(
        f"<item><title>{escape(t)}</title><link>{room.url(p)}</link><guid>{p}</guid>"
        f"<pubDate>{when}</pubDate></item>"
        for t, p, when in ((story.title, PAGE_PATH, "Sat, 06 Jun 2026 09:30:00 GMT"),
                           ("Annual report", ZIP_PATH, "Sat, 06 Jun 2026 09:30:00 GMT"),
                           ("River park plan", FUTURE_PATH, "Sat, 06 Jun 2099 09:30:00 GMT")))
    feed = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Plain Gazette</title>{items}</channel></rss>"
    room.set_route("/plain-gazette/feed.xml", body=feed.encode(), content_type="application/rss+xml")
    rewrite_sources(site.config, order=[], extra=[{"id": "plain-gazette", "url": room.url("/plain-gazette/feed.xml")}])
    return story.title, story.paragraphs[0]


def _article(site, path: str) -> dict:
    with duckdb.connect(str(site.warehouse), read_only=True) as con:
        cur = con.execute("SELECT a.*, s.decision, s.in_window FROM articles a LEFT JOIN story_scores s "
                          "USING (article_id) WHERE a.url = ?", [site.room.url(path)])
        return dict(zip([d[0] for d in cur.description], cur.fetchone()))


def test_footer_only_page_takes_the_feed_date_counts_in_window_and_is_archived(site):
    title, first_paragraph = _publish(site)
    result = site.run("run", "--all")
    assert result.returncode == 0, result.stderr
    page = _article(site, PAGE_PATH)
    assert (page["published_at"], page["published_source"]) == (FEED_DATE, "feed")
    assert page["date_guess"] is None and page["title"] == title
    assert (page["decision"], page["in_window"]) == ("relevant", True)
    assert rows(site.warehouse, "SELECT count(*) FROM story_articles WHERE article_id = ?", [page["article_id"]]) == [(1,)]
    archived = read_response(site.warehouse.parent / "archive" / page["warc_file"], page["warc_offset"])
    assert archived.url == site.room.url(PAGE_PATH) and archived.status == 200
    assert archived.body == site.room.route(PAGE_PATH).body and archived.headers["content-type"] == "text/html"
    zipped = _article(site, ZIP_PATH)
    assert zipped["status"] == "failed" and "not an article page: the body is a ZIP archive" in zipped["fail_reason"]
    assert zipped["body"] is None and zipped["warc_file"]
    future = _article(site, FUTURE_PATH)  # a feed date past tomorrow is dropped, never stored
    assert (future["published_at"], future["published_source"]) == (None, None)
    assert rows(site.warehouse, "SELECT published_at FROM sightings WHERE link = ?",
                [site.room.url(FUTURE_PATH)]) == [(None,)]


def test_reextract_updates_old_articles_without_a_request(site):
    title, _ = _publish(site)
    assert site.run("run", "--all").returncode == 0
    page = _article(site, PAGE_PATH)
    with duckdb.connect(str(site.warehouse)) as con:  # what the old rules stored: the footer's year
        con.execute("UPDATE articles SET published_at = '2026-01-01 00:00:00+00', published_source = NULL, "
                    "title = 'stale', body = 'stale text' WHERE article_id = ?", [page["article_id"]])
        con.execute("UPDATE story_scores SET decision = 'not', in_window = FALSE WHERE article_id = ?",
                    [page["article_id"]])
    site.room.clear_requests()
    result = site.run("reextract", "--source", "plain-gazette", "--since", "2026-01-01")
    assert result.returncode == 0, result.stderr
    assert "re-extracted 3 archived pages: 2 articles, 1 not articles" in result.stdout
    assert site.room.requests == []
    again = _article(site, PAGE_PATH)
    assert (again["published_at"], again["published_source"], again["title"]) == (FEED_DATE, "feed", title)
    assert again["body"] == page["body"] and again["content_hash"] == page["content_hash"]
    assert (again["decision"], again["in_window"]) == ("relevant", True)


def test_reextract_names_an_unknown_source(site):
    result = site.run("reextract", "--source", "no-such-source")
    assert result.returncode == 2 and "no-such-source" in result.stderr


def _fetched(url: str, body: bytes) -> FetchResult:
    return FetchResult(url=url, final_url=url, status=200, body=body, content_type="text/html", etag=None,
                       last_modified=None, elapsed_ms=1,
                       headers=(("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Content-Length", "9")),
                       request_headers=(("Host", "127.0.0.1"), ("User-Agent", "newswatch-tests")))


def test_archive_rotates_and_reads_back_every_response(tmp_path: Path):
    pages = [(f"http://127.0.0.1/p/{i}", f"<p>page {i}</p>".encode() * 400) for i in range(6)]
    with PageArchive(tmp_path, max_bytes=600) as archive:
        refs = [archive.write(_fetched(url, body)) for url, body in pages]
    files = sorted(tmp_path.glob("*.warc.gz"))
    assert len(files) > 1 and {r.file for r in refs} == {f.name for f in files}
    read = [r for f in files for r in iter_responses(f)]
    assert [(r.url, r.body) for r in read] == pages
    assert all(r.headers["content-length"] == str(len(r.body)) and "content-encoding" not in r.headers for r in read)
    one = read_response(tmp_path / refs[3].file, refs[3].offset)
    assert (one.url, one.body, one.offset) == (*pages[3], refs[3].offset)


def test_two_archives_of_one_process_in_one_second_never_share_a_file(tmp_path: Path):
    first, second = PageArchive(tmp_path), PageArchive(tmp_path)
    with first, second:
        refs = [first.write(_fetched("http://127.0.0.1/a", b"<p>a</p>")),
                second.write(_fetched("http://127.0.0.1/b", b"<p>b</p>"))]
    assert refs[0].file != refs[1].file
    assert [r.url for f in sorted(tmp_path.iterdir()) for r in iter_responses(f)] == ["http://127.0.0.1/a",
                                                                                    "http://127.0.0.1/b"]
