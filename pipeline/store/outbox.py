"""What a digest shows, and the outbox that sends each digest once (issue 5)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Sequence

from .core import Core, _marks


class OutboxQueries(Core):
    # -- digest outbox (issue 5) -------------------------------------------------------------
    # What a digest shows, and the outbox that makes it go out once
    # (warehouse/migrations/0003_digest_outbox.sql). Windows are (start, end]: an article
    # belongs to the digest whose window holds its first_seen_at.

    def _digest_inputs(self) -> str:
        """Two CTEs: ``raw``, one story's articles ($story), and ``sc``, the clusters of
        copies. Reference articles are the story's yardstick, not news: left out."""
        return ("raw AS (SELECT article_id, outlet_id, url, published_at, first_seen_at, event_at, cluster_id, "
                "is_copy FROM story_articles WHERE story_id = $story AND decision = 'relevant' "
                "AND NOT is_reference), "
                "sc AS (SELECT cluster_id, origin_title, origin_outlet, origin_url, outlets "
                "FROM syndication_clusters)")

    def _digest_query(self, body: str, params: dict[str, Any]) -> list[tuple]:
        """``body`` run over ``story`` (the story's articles with their outlet's name) and ``sc``."""
        sql = (f"WITH {self._digest_inputs()}, story AS (SELECT raw.*, "
               "coalesce(o.name, raw.outlet_id, '(unknown outlet)') AS outlet FROM raw "
               f"LEFT JOIN outlets o USING (outlet_id)) {body}")
        return self.con.execute(sql, params).fetchall()

    def digest_counts(self, story_id: str, start: datetime, end: datetime) -> tuple[int, int]:
        """(articles first seen inside the window, copies among them)."""
        [(articles, copies)] = self._digest_query(
            "SELECT count(*), count(*) FILTER (WHERE is_copy) FROM story "
            "WHERE first_seen_at > $start AND first_seen_at <= $end",
            {"story": story_id, "start": start, "end": end})
        return int(articles), int(copies)

    def digest_new_outlets(self, story_id: str, start: datetime, end: datetime) -> list[str]:
        """Outlets whose first article on the story was first seen inside the window."""
        rows = self._digest_query(
            "SELECT outlet FROM story WHERE first_seen_at <= $end GROUP BY outlet "
            "HAVING min(first_seen_at) > $start ORDER BY min(first_seen_at), outlet",
            {"story": story_id, "start": start, "end": end})
        return [r[0] for r in rows]

    def digest_clusters(self, story_id: str, start: datetime, end: datetime) -> list[tuple]:
        """(title, origin outlet, origin URL, outlets carrying it, [(outlet, URL) of the
        story's copies]) of every cluster with an article first seen inside the window. The
        origin comes from syndication_clusters (a lone article is its own); the outlets
        counted are those of the story's articles, the same ones the links list."""
        rows = self._digest_query(
            "SELECT coalesce(sc.origin_title, c.title, ''), coalesce(sc.origin_outlet, c.outlet), "
            "  coalesce(sc.origin_url, c.url), c.outlets AS n, c.links "
            "FROM (SELECT m.cluster_id, arg_min(a.title, m.rank) AS title, arg_min(m.outlet, m.rank) AS outlet,"
            "    arg_min(m.url, m.rank) AS url, count(DISTINCT m.outlet) AS outlets,"
            "    list([m.outlet, m.url] ORDER BY m.rank) FILTER (WHERE m.is_copy) AS links, min(m.at) AS first_at"
            "  FROM (SELECT s.*, coalesce(s.published_at, s.first_seen_at) AS at, row_number() OVER ("
            "      PARTITION BY s.cluster_id ORDER BY s.article_id <> s.cluster_id, s.is_copy,"
            "      coalesce(s.published_at, s.first_seen_at), s.article_id) AS rank"
            "    FROM story s WHERE s.first_seen_at <= $end AND s.cluster_id IN ("
            "      SELECT cluster_id FROM story WHERE first_seen_at > $start AND first_seen_at <= $end)) m"
            "  JOIN articles a USING (article_id) GROUP BY m.cluster_id) c "
            "LEFT JOIN sc USING (cluster_id) ORDER BY n DESC, c.first_at, c.cluster_id",
            {"story": story_id, "start": start, "end": end})
        return [(t, o, u, int(n), [tuple(link) for link in links or []]) for t, o, u, n, links in rows]

    def digest_by_outlet(self, story_id: str, end: datetime) -> list[tuple[str, int]]:
        """The story's articles per outlet, everything up to the window's end."""
        rows = self._digest_query("SELECT outlet, count(*) FROM story WHERE first_seen_at <= $end "
                                  "GROUP BY outlet ORDER BY 2 DESC, 1", {"story": story_id, "end": end})
        return [(r[0], int(r[1])) for r in rows]

    def digest_daily(self, story_id: str, end: datetime, tz: str, first: date, last: date) -> list[tuple[date, int]]:
        """The story's articles per day they appeared (``event_at``: published, else first
        seen; undated reference articles left out), as days of ``tz``, ``first`` to ``last``."""
        rows = self._digest_query(
            "SELECT day, count(*) FROM (SELECT CAST(timezone($tz, event_at) AS DATE) AS day FROM story "
            "WHERE first_seen_at <= $end) WHERE day BETWEEN $first AND $last GROUP BY day ORDER BY day",
            {"story": story_id, "end": end, "tz": tz, "first": first, "last": last})
        return [(r[0], int(r[1])) for r in rows]

    def failing_sources(self, story_id: str, end: datetime, min_age: timedelta) -> list[tuple]:
        """(source, URL, failing since, error kind, last error) of the active sources that
        have failed every poll for at least ``min_age`` before ``end`` (sources of other
        stories left out). "Since" is the first failed fetch after the last success."""
        _, rows = self.query(
            "SELECT s.source_id, s.url, min(f.fetched_at) AS since, coalesce(s.last_error_kind, 'error'), "
            "coalesce(s.last_error, '') "
            "FROM sources s JOIN fetch_log f ON f.source_id = s.source_id AND NOT f.ok AND f.fetched_at <= ? "
            "AND f.fetched_at > coalesce(s.last_success_at, TIMESTAMPTZ '1970-01-01 00:00:00+00') "
            "WHERE s.active AND s.consecutive_failures > 0 AND (s.story_id IS NULL OR s.story_id = ?) "
            "GROUP BY ALL HAVING min(f.fetched_at) <= ? ORDER BY since, s.source_id",
            [end, story_id, end - min_age])
        return [tuple(r) for r in rows]

    def digest_window_start(self, story_id: str, recipient: str, day: date) -> datetime | None:
        """Where the recipient's digest for ``day`` starts: the end of their latest earlier
        digest that went out or may still go out (failed ones do not count: their news
        moves on to the next digest). None when there is none."""
        return self.scalar("SELECT max(window_end) FROM digest_outbox WHERE story_id = ? AND recipient = ? "
                           "AND day < ? AND state <> 'failed'", [story_id, recipient, day])

    def digest_state(self, story_id: str, day: date, recipient: str) -> str | None:
        return self.scalar("SELECT state FROM digest_outbox WHERE story_id = ? AND day = ? AND recipient = ?",
                           [story_id, day, recipient])

    def add_digest(self, row: dict[str, Any]) -> None:
        """A new outbox row in state pending (kept as it is when the key exists)."""
        cols = ["story_id", "day", "recipient", "message_id", "state", "window_start", "window_end",
                "message", "attempts", "created_at", "updated_at"]
        values = {**row, "state": "pending", "attempts": 0, "updated_at": row["created_at"]}
        self.con.execute(f"INSERT INTO digest_outbox ({', '.join(cols)}) VALUES ({_marks(len(cols))}) "
                         "ON CONFLICT DO NOTHING", [values[c] for c in cols])

    def mark_interrupted_digests(self, now: datetime) -> int:
        """Rows left 'sending' by a job that died mid-send become 'unknown': the server may
        have accepted the message. Call only while holding the writer lock."""
        count = int(self.scalar("SELECT count(*) FROM digest_outbox WHERE state = 'sending'"))
        if count:
            self.con.execute("UPDATE digest_outbox SET state = 'unknown', updated_at = ?, last_error = "
                             "'interrupted during the SMTP conversation; it may have been delivered' "
                             "WHERE state = 'sending'", [now])
        return count

    def digests_to_send(self, story_ids: Sequence[str], recipients: Sequence[str], day: date,
                        resend: bool) -> list[dict[str, Any]]:
        """Pending rows of any day; with ``resend`` also ``day``'s unknown and failed rows."""
        cols, rows = self.query(
            "SELECT story_id, day, recipient, message_id, state, message FROM digest_outbox "
            "WHERE list_contains(?, story_id) AND list_contains(?, recipient) "
            "AND (state = 'pending' OR (? AND day = ? AND state IN ('unknown', 'failed'))) "
            "ORDER BY day, story_id, recipient", [list(story_ids), list(recipients), resend, day])
        return [dict(zip(cols, r)) for r in rows]

    def set_digest_state(self, key: tuple[str, date, str], state: str, now: datetime, *,
                         error: str | None = None, reply: str | None = None) -> None:
        """Move an outbox row to ``state``; 'sending' counts an attempt, 'sent' stamps sent_at."""
        self.con.execute(
            "UPDATE digest_outbox SET state = ?, updated_at = ?, attempts = attempts + (? = 'sending')::INTEGER, "
            "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, last_error = coalesce(?, last_error), "
            "server_reply = coalesce(?, server_reply) WHERE story_id = ? AND day = ? AND recipient = ?",
            [state, now, state, state, now, error, reply, *key])
