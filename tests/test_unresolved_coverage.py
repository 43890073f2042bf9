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
