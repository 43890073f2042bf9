"""Keyed lookups for the title rule, and clusters of copies, full or for what changed
(issue 12: costs that follow the work, not the size of the warehouse)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Sequence

from .core import Core

Member = tuple[str, datetime | None, datetime]  # article_id, published_at, first_seen_at


class ClusterQueries(Core):
    # -- title keys (the same-outlet title rule, migration 0012) ---------------------------
    def task_pending(self, task: str) -> bool:
        """Whether a migration left ``task`` for the writer (see ``store_tasks``)."""
        return bool(self.scalar("SELECT count(*) FROM store_tasks WHERE task = ?", [task]))

    def titled_articles(self, chunk: int = 20000) -> Iterator[list[dict[str, Any]]]:
        """Every extracted article with an outlet and a title, a chunk at a time (keyset
        pagination on the primary key, so memory stays bounded)."""
        after = ""
        while True:
            cols, rows = self.query(
                "SELECT article_id, status, outlet_id, title, site_name FROM articles WHERE article_id > ? "
                "AND status = 'extracted' AND outlet_id IS NOT NULL AND title IS NOT NULL "
                "ORDER BY article_id LIMIT ?", [after, chunk])
            if not rows:
                return
            yield [dict(zip(cols, r)) for r in rows]
            after = rows[-1][0]

    def save_title_keys(self, rows: Sequence[tuple[str, int]], task_done: str | None = None) -> None:
        """(article_id, title_key) rows, replacing an article's earlier key."""
        with self.transaction():
            if rows:
                ids, keys = [r[0] for r in rows], [r[1] for r in rows]
                self.con.execute("INSERT INTO title_keys SELECT unnest(?::VARCHAR[]), unnest(?::BIGINT[]) "
                                 "ON CONFLICT (article_id) DO UPDATE SET title_key = excluded.title_key", [ids, keys])
            if task_done:
                self.con.execute("DELETE FROM store_tasks WHERE task = ?", [task_done])

    def title_key_holders(self, keys: Sequence[int]) -> dict[int, set[str]]:
        """The articles holding each title key (an index lookup)."""
        found: dict[int, set[str]] = {}
        for key, article_id in self.rows_in("SELECT title_key, article_id FROM title_keys "
                                            "WHERE title_key IN ({})", sorted(set(keys))):
            found.setdefault(key, set()).add(article_id)
        return found

    def title_rows(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What the title rule checks of each article, read from the article rows."""
        cols = ["article_id", "status", "outlet_id", "title", "site_name", "published_at", "first_seen_at"]
        rows = self.rows_in(f"SELECT {', '.join(cols)} FROM articles WHERE article_id IN ({{}})", sorted(set(ids)))
        return {r[0]: dict(zip(cols, r)) for r in rows}

    # -- clusters ------------------------------------------------------------------------
    def cluster_inputs(self) -> tuple[list[tuple[str, str, str, float | None]], list[Member]]:
        """(links, members): the dup links (a, b, relation, jaccard), and every clusterable
        article with its dates."""
        _, pairs = self.query("SELECT article_a, article_b, relation, jaccard FROM dup_links ORDER BY 1, 2")
        _, members = self.query("SELECT article_id, published_at, first_seen_at FROM articles "
                                "WHERE status IN ('extracted', 'reference') ORDER BY 1")
        return [tuple(p) for p in pairs], [tuple(m) for m in members]

    def replace_clusters(self, rows: list[tuple[str, str, bool]]) -> None:
        """The whole clusters table, rewritten in one set-based statement."""
        with self.transaction():
            self.con.execute("DELETE FROM clusters")
            self.con.execute("DELETE FROM cluster_queue")
            self._insert_clusters(rows)

    def cluster_queue(self) -> list[str]:
        """Articles checked for near-duplicates whose clusters were not recomputed since."""
        return [r[0] for r in self.query("SELECT article_id FROM cluster_queue ORDER BY 1")[1]]

    def cluster_neighbourhood(self, ids: Sequence[str]) -> tuple[set[str], list[tuple[str, str, str, float | None]]]:
        """The smallest set holding ``ids`` that is closed under the dup links and under
        the current clusters, with the links inside it. Each step is index lookups on
        the articles found so far, so the cost follows the size of the clusters touched."""
        closed: set[str] = set()
        todo = set(ids)
        pairs: set[tuple[str, str, str, float | None]] = set()
        while todo:
            closed |= todo
            step = self._linked(todo)
            pairs |= step
            found = {x for p in step for x in p[:2]} | self._cluster_mates(todo)
            todo = found - closed
        return closed, sorted(pairs)

    def _linked(self, ids: set[str]) -> set[tuple[str, str, str, float | None]]:
        values = sorted(ids)
        cols = "article_a, article_b, relation, jaccard"
        rows = self.rows_in(f"SELECT {cols} FROM dup_links WHERE article_a IN ({{}})", values)
        rows += self.rows_in(f"SELECT {cols} FROM dup_links WHERE article_b IN ({{}})", values)
        return {tuple(r) for r in rows}

    def _cluster_mates(self, ids: set[str]) -> set[str]:
        roots = [r[0] for r in self.rows_in("SELECT DISTINCT cluster_id FROM clusters WHERE article_id IN ({})",
                                            sorted(ids))]
        return {r[0] for r in self.rows_in("SELECT article_id FROM clusters WHERE cluster_id IN ({})", roots)}

    def clusterable(self, ids: Sequence[str]) -> list[Member]:
        """(article_id, published_at, first_seen_at) of those of ``ids`` that belong in clusters."""
        rows = self.rows_in("SELECT article_id, published_at, first_seen_at FROM articles WHERE article_id IN ({}) "
                            "AND status IN ('extracted', 'reference')", sorted(set(ids)))
        return sorted(tuple(r) for r in rows)

    def rewrite_clusters(self, ids: Sequence[str], rows: list[tuple[str, str, bool]]) -> None:
        """Replace the cluster rows of ``ids`` (those with no place in a cluster any more
        simply lose theirs) and empty the queue, in one transaction."""
        with self.transaction():
            self.update_in("DELETE FROM clusters WHERE article_id IN ({})", [], sorted(set(ids)))
            self._insert_clusters(rows)
            self.con.execute("DELETE FROM cluster_queue")

    def _insert_clusters(self, rows: list[tuple[str, str, bool]]) -> None:
        if rows:
            self.con.execute("INSERT INTO clusters SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
                             "unnest(?::BOOLEAN[])", [list(c) for c in zip(*rows)])
