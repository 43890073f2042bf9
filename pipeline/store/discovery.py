"""Unresolved aggregator items and discovery channels (issue 4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .core import Core


class DiscoveryQueries(Core):
    # -- discovery channels (issue 4): unresolved aggregator items ------------------------
    def unresolved_articles(self) -> list[dict[str, Any]]:
        """Aggregator items kept with their claims only, attributed to an outlet, with the
        outlet's name and the publisher name the aggregator gave."""
        cols, rows = self.query(
            "SELECT a.article_id, a.outlet_id, a.title, a.published_at, a.first_seen_at, "
            "o.name AS outlet_name, (SELECT min(s.publisher_name) FROM sightings s "
            "WHERE s.article_id = a.article_id) AS publisher_name "
            "FROM articles a LEFT JOIN outlets o USING (outlet_id) "
            "WHERE a.status = 'unresolved' AND a.outlet_id IS NOT NULL AND a.title IS NOT NULL "
            "ORDER BY a.first_seen_at, a.article_id")
        return [dict(zip(cols, r)) for r in rows]

    def outlet_articles_near(self, outlet_id: str, when: datetime, days: int) -> list[dict[str, Any]]:
        """The outlet's fetched articles dated within ``days`` of ``when`` (published, else
        first seen)."""
        cols, rows = self.query(
            "SELECT article_id, title, site_name FROM articles WHERE outlet_id = ? "
            "AND status = 'extracted' AND title IS NOT NULL AND abs(epoch(coalesce(published_at, "
            "first_seen_at)) - epoch(CAST(? AS TIMESTAMPTZ))) <= ? * 86400 ORDER BY article_id",
            [outlet_id, when, days])
        return [dict(zip(cols, r)) for r in rows]

    def merge_article(self, placeholder_id: str, article_id: str, now: datetime) -> None:
        """Point an unresolved placeholder's sightings and links at the real article and
        mark it 'merged' (kept as the record of the match), in one transaction."""
        with self.transaction():
            self.con.execute("UPDATE sightings SET article_id = ? WHERE article_id = ?",
                             [article_id, placeholder_id])
            self.con.execute("UPDATE article_urls SET article_id = ? WHERE article_id = ?",
                             [article_id, placeholder_id])
            self.con.execute("UPDATE articles SET status = 'merged', merged_into = ?, updated_at = ? "
                             "WHERE article_id = ?", [article_id, now, placeholder_id])
