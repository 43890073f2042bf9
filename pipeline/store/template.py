"""Queries of each outlet's template shingles (issue 11): learnt, stored, read back; and the
window of recent pages each is learnt from, kept between runs (issue 12, migration 0016)."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from .core import Core

# Window pages per INSERT: DuckDB converts a list parameter of blobs with several times
# their size in memory (6,000 pages of 800 words at once: +480 MB); 250 keep it small.
PAGES_CHUNK = 250


class TemplateQueries(Core):
    def outlet_pages(self, outlet_ids: Sequence[str], sample: int) -> dict[str, list[tuple]]:
        """Each outlet's ``sample`` most recently seen extracted pages, newest first:
        (article_id, first_seen_at in microseconds since the epoch, body). A scan of
        articles: only for outlets whose window is not kept (``template_windows``)."""
        if not outlet_ids:
            return {}
        _, rows = self.query(
            "SELECT outlet_id, article_id, epoch_us(first_seen_at), body FROM (SELECT outlet_id, article_id, first_seen_at, "
            "body, row_number() OVER (PARTITION BY outlet_id ORDER BY first_seen_at DESC, article_id) AS n "
            "FROM articles WHERE outlet_id IN (SELECT unnest(?::VARCHAR[])) AND status = 'extracted' "
            "AND body IS NOT NULL) WHERE n <= ? ORDER BY outlet_id, n", [list(outlet_ids), sample])
        found: dict[str, list[tuple]] = {}
        for outlet, *page in rows:
            found.setdefault(outlet, []).append(tuple(page))
        return found

    def template_windows(self, outlet_ids: Sequence[str]) -> dict[str, list[tuple]]:
        """The kept window of each of these outlets that has one (migration 0016): outlet ->
        [(article_id, first_seen_us, words, digest, shingles)] (shingles: bytes of sorted
        little-endian uint64), in no particular order; [] for a kept, empty window. Both
        tables hold at most TEMPLATE_SAMPLE rows an outlet, whatever the warehouse size,
        and DuckDB filters the scan by the outlet list (a dynamic IN filter): 10x faster
        than the outlet index, which fetches row by row."""
        found: dict[str, list[tuple]] = {o: [] for o, in self.con.execute(
            "SELECT outlet_id FROM template_state WHERE outlet_id IN (SELECT unnest(?::VARCHAR[]))",
            [list(outlet_ids)]).fetchall()}
        for outlet, *page in self.con.execute(
                "SELECT outlet_id, article_id, first_seen_us, words, digest, shingles FROM template_pages "
                "WHERE outlet_id IN (SELECT unnest(?::VARCHAR[]))", [sorted(found)]).fetchall():
            found[outlet].append(tuple(page))
        return found

    def save_template_windows(self, rebuilt: Sequence[str], dropped: Sequence[str], pages: Sequence[tuple],
                              now: datetime) -> None:
        """Windows after a learning pass: the pages of the ``rebuilt`` outlets and the
        ``dropped`` pages go, ``pages`` (outlet_id, article_id, first_seen_us, words,
        digest, shingles) come in, and the ``rebuilt`` outlets' windows are marked kept.
        Call inside the transaction that saves the templates."""
        if rebuilt:  # none once every outlet's window is kept
            self.con.execute("DELETE FROM template_pages WHERE outlet_id IN (SELECT unnest(?::VARCHAR[]))",
                             [list(rebuilt)])
        self.update_in("DELETE FROM template_pages WHERE article_id IN ({})", [], dropped)
        for start in range(0, len(pages), PAGES_CHUNK):
            cols = [list(c) for c in zip(*pages[start:start + PAGES_CHUNK])]
            self.con.execute("INSERT INTO template_pages (outlet_id, article_id, first_seen_us, words, digest, shingles) "
                             "SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::BIGINT[]), "
                             "unnest(?::INTEGER[]), unnest(?::BLOB[]), unnest(?::BLOB[])", cols)
        if rebuilt:
            self.con.execute("INSERT INTO template_state SELECT unnest(?::VARCHAR[]), ? ON CONFLICT (outlet_id) "
                             "DO UPDATE SET rebuilt_at = excluded.rebuilt_at", [list(rebuilt), now])

    def save_outlet_templates(self, templates: dict[str, tuple[int, frozenset[int]]], now: datetime,
                              windows: tuple | None = None) -> None:
        """Replace the templates of the given outlets: outlet -> (texts seen, shingles);
        in the same transaction, the outlets' windows (``save_template_windows``'s
        arguments but ``now``)."""
        outlets = [o for o, (_, shingles) in templates.items() for _ in shingles]
        shingles = [h for _, hs in templates.values() for h in hs]
        texts = [n for o, (n, hs) in templates.items() for _ in hs]
        with self.transaction():
            self.con.execute("DELETE FROM outlet_template WHERE outlet_id IN (SELECT unnest(?::VARCHAR[]))",
                             [list(templates)])
            if shingles:
                self.con.execute(
                    "INSERT INTO outlet_template SELECT unnest(?::VARCHAR[]), unnest(?::UBIGINT[]), "
                    "unnest(?::INTEGER[]), ?", [outlets, shingles, texts, now])
            if windows is not None:
                self.save_template_windows(*windows, now)

    def outlet_template_sets(self, outlet_ids: Sequence[str]) -> dict[str, frozenset[int]]:
        """outlet_id -> its template shingles (outlets without any left out). A scan of
        outlet_template filtered by the outlet list: at most one template an outlet."""
        rows = self.con.execute("SELECT outlet_id, list(shingle) FROM outlet_template WHERE outlet_id IN "
                                "(SELECT unnest(?::VARCHAR[])) GROUP BY outlet_id", [list(outlet_ids)]).fetchall()
        return {o: frozenset(int(h) for h in hs) for o, hs in rows}

    def texts_of(self, article_ids: Sequence[str]) -> dict[str, tuple[str | None, str]]:
        """article_id -> (outlet_id, body), for those of ``article_ids`` that have a body
        (primary-key lookups)."""
        return {aid: (outlet, body) for aid, outlet, body in self.rows_in(
            "SELECT article_id, outlet_id, body FROM articles WHERE article_id IN ({}) AND body IS NOT NULL", article_ids)}

    def reference_bodies(self) -> dict[str, str]:
        """The text of every story's reference articles (the seeds)."""
        _, rows = self.query("SELECT article_id, body FROM articles WHERE status = 'reference' AND body IS NOT NULL")
        return dict(rows)

    def word_counts(self, ids: Sequence[str]) -> dict[str, int]:
        """article_id -> word count, for those of ``ids`` that have one."""
        return dict(self.rows_in("SELECT article_id, word_count FROM articles WHERE article_id IN ({}) "
                                 "AND word_count IS NOT NULL", sorted(set(ids))))
