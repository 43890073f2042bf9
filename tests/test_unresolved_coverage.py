"""An aggregator item whose page cannot be reached (a Google News article token) still
counts for the story at the publisher the aggregator names, scored on its title and
snippet; an off-topic item does not."""

from __future__ import annotations

from conftest import rows

SEARCH = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>"Anthropic pause" - Google News</title>
<link>https://news.google.com/search?q=anthropic+pause</link><description>Google News</description>
<item>
  <title>Anthropic calls for a pause as AI nears self-improvement - Quay Herald</title>
  <link>https://news.google.com/rss/articles/CBMiTOKENonTOPICa1b2c3?oc=5</link>
  <guid isPermaLink="false">CBMiTOKENonTOPICa1b2c3</guid>
  <pubDate>Fri, 05 Jun 2026 09:00:00 GMT</pubDate>
  <description>&lt;a href="https://news.google.com/rss/articles/CBMiTOKENonTOPICa1b2c3"&gt;Anthropic calls
   for a pause as AI nears self-improvement&lt;/a&gt; Jack Clark and Marina Favaro argue frontier labs should be
   ready to slow down before AI systems build their own successors.</description>
  <source url="https://www.quayherald.example">Quay Herald</source>
</item>
<item>
  <title>Harbour authority pauses dredging after storm damage - Quay Herald</title>
  <link>https://news.google.com/rss/articles/CBMiTOKENoffTOPICd4e5f6?oc=5</link>
  <guid isPermaLink="false">CBMiTOKENoffTOPICd4e5f6</guid>
  <pubDate>Fri, 05 Jun 2026 10:00:00 GMT</pubDate>
  <description>The harbour authority paused dredging work in the outer channel.</description>
  <source url="https://www.quayherald.example">Quay Herald</source>
</item>
</channel></rss>
"""


def test_unreachable_aggregator_items_count_at_the_named_publisher(site):
    room = site.room
    room.set_route("/search/google-news.xml", body=SEARCH.encode(), content_type="application/rss+xml")
    with open(site.config / "sources.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[[source]]\nid = "gn-search"\nkind = "search"\nurl = "{room.url("/search/google-news.xml")}"\n')
    result = site.run("run", "--all")
    assert result.returncode == 0, result.stderr
    counted = rows(site.warehouse, "SELECT s.outlet, s.title, s.resolved FROM story_articles s "
                   "WHERE story_id = 'rsi-pause' AND NOT resolved")
    assert [(o, r) for o, _, r in counted] == [("Quay Herald", False)]
    assert counted[0][1].startswith("Anthropic calls for a pause")
    off = rows(site.warehouse, "SELECT decision FROM story_scores s JOIN articles a USING (article_id) "
               "WHERE a.title LIKE 'Harbour authority%'")
    assert off == [("not",)]
    coverage = dict(rows(site.warehouse, "SELECT outlet, original_articles FROM story_coverage_by_outlet"))
    assert coverage["Quay Herald"] == 1


PAYWALLED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Ledger Times - Technology</title><link>{base}/ledger/</link>
<description>Technology</description>
<item>
  <title>Anthropic asks rivals to prepare for a pause in frontier AI</title>
  <link>{base}/ledger/2026/06/05/anthropic-pause-frontier.html</link>
  <guid>ledger-1</guid><pubDate>Fri, 05 Jun 2026 08:00:00 GMT</pubDate>
  <description>The Claude maker says AI systems may soon help build their own successors, and that
  the industry should be ready to slow down or pause development if that happens.</description>
</item>
<item>
  <title>Ferry operator pauses night sailings for the winter</title>
  <link>{base}/ledger/2026/06/05/ferry-pause.html</link>
  <guid>ledger-2</guid><pubDate>Fri, 05 Jun 2026 09:00:00 GMT</pubDate>
  <description>Night crossings will resume in March, the operator said.</description>
</item>
</channel></rss>
"""


def test_a_paywalled_page_counts_when_its_feed_snippet_is_about_the_story(site):
    room = site.room
    room.set_route("/ledger/feed.xml", body=PAYWALLED.format(base=room.base_url).encode(),
                   content_type="application/rss+xml")
    for path in ("/ledger/2026/06/05/anthropic-pause-frontier.html", "/ledger/2026/06/05/ferry-pause.html"):
        room.set_route(path, status=403, body=b"Subscribe to read")
    with open(site.config / "sources.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[[source]]\nid = "ledger"\nurl = "{room.url("/ledger/feed.xml")}"\n')
    assert site.run("run", "--all").returncode == 0
    unread = rows(site.warehouse, "SELECT title, resolved FROM story_articles WHERE story_id = 'rsi-pause' "
                  "AND url LIKE '%/ledger/%'")
    assert unread == [("Anthropic asks rivals to prepare for a pause in frontier AI", False)]
    # Pages not read are left out of the plain volume views.
    read = rows(site.warehouse, "SELECT count(*) FROM articles WHERE status IN ('extracted', 'reference')")[0][0]
    assert rows(site.warehouse, "SELECT sum(articles) FROM coverage_by_outlet")[0][0] == read
    assert rows(site.warehouse, "SELECT count(*) FROM articles WHERE url LIKE '%/ledger/%' "
                "AND status = 'failed'") == [(2,)]


def test_a_page_read_after_failing_is_scored_again_on_its_text(site):
    room = site.room
    article = next(a for a in room.live_articles() if a.on_topic and not a.copy_of and not a.redirect)
    original = room.route(article.path)
    room.set_route(article.path, status=503, body=b"busy")
    assert site.run("run", "--all").returncode == 0
    query = ("SELECT s.nearest_similarity, s.scored_at, a.status FROM story_scores s JOIN articles a "
             "USING (article_id) WHERE s.story_id = 'rsi-pause' AND a.url LIKE ?")
    [(before, first_at, status)] = rows(site.warehouse, query, [f"%{article.path}%"])
    assert status == "failed"
    room.set_route(article.path, original)
    assert site.run("run", "--all").returncode == 0
    [(after, second_at, status)] = rows(site.warehouse, query, [f"%{article.path}%"])
    assert status == "extracted"
    assert second_at > first_at and after > before  # the full text is nearer the seeds than a title
