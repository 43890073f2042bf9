"""Queries of ``newswatch reextract``: the articles whose pages are in the archive."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class ArchivedQueries:
    con: Any

    def archived_articles(self, since: datetime | None, source_id: str | None) -> list[dict[str, Any]]:
        """Articles with an archived page (first seen at or after ``since``, listed by
        ``source_id``), with the earliest feed date and a feed title of their sightings."""
        sql = (
            "SELECT a.article_id, a.canonical_url, a.url, a.first_seen_at, a.warc_file, a.warc_offset, "
            "s.feed_date, s.feed_title FROM articles a LEFT JOIN (SELECT article_id, "
            "min(published_at) AS feed_date, min(title) AS feed_title FROM sightings GROUP BY article_id) s "
            "USING (article_id) WHERE a.warc_file IS NOT NULL AND a.status IN ('extracted', 'failed') "
            "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR a.first_seen_at >= ?) AND (CAST(? AS VARCHAR) IS NULL OR "
            "a.article_id IN (SELECT article_id FROM sightings WHERE source_id = ?)) ORDER BY a.warc_file, a.warc_offset")
        cur = self.con.execute(sql, [since, since, source_id, source_id])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
