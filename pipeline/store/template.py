"""Queries of each outlet's template shingles (issue 11): learnt, stored, read back."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from .core import Core


class TemplateQueries(Core):
    def outlet_bodies(self, outlet_ids: Sequence[str], sample: int) -> dict[str, list[str]]:
        """Each outlet's ``sample`` most recently seen article bodies."""
        _, rows = self.query(
            "SELECT outlet_id, body FROM (SELECT outlet_id, body, row_number() OVER (PARTITION BY outlet_id "
            "ORDER BY first_seen_at DESC, article_id) AS n FROM articles WHERE outlet_id IN "
            "(SELECT unnest(?::VARCHAR[])) AND status = 'extracted' AND body IS NOT NULL) WHERE n <= ? "
            "ORDER BY outlet_id, n", [list(outlet_ids), sample])
        found: dict[str, list[str]] = {}
        for outlet, body in rows:
            found.setdefault(outlet, []).append(body)
        return found

    def save_outlet_templates(self, templates: dict[str, tuple[int, frozenset[int]]], now: datetime) -> None:
        """Replace the templates of the given outlets: outlet -> (texts seen, shingles)."""
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

    def outlet_templates(self, article_ids: Sequence[str]) -> dict[str, frozenset[int]]:
        """article_id -> the template shingles of its outlet (articles with none left out)."""
        rows = self.rows_in("SELECT a.article_id, list(t.shingle) FROM articles a JOIN outlet_template t "
                            "USING (outlet_id) WHERE a.article_id IN ({}) GROUP BY a.article_id", sorted(set(article_ids)))
        return {aid: frozenset(int(h) for h in hs) for aid, hs in rows}

    def outlets_of(self, article_ids: Sequence[str]) -> dict[str, str]:
        """article_id -> outlet_id (articles of no known outlet left out)."""
        return dict(self.rows_in("SELECT article_id, outlet_id FROM articles WHERE article_id IN ({}) "
                                 "AND outlet_id IS NOT NULL", sorted(set(article_ids))))

    def reference_bodies(self) -> dict[str, str]:
        """The text of every story's reference articles (the seeds)."""
        _, rows = self.query("SELECT article_id, body FROM articles WHERE status = 'reference' AND body IS NOT NULL")
        return dict(rows)

    def word_counts(self, ids: Sequence[str]) -> dict[str, int]:
        """article_id -> word count, for those of ``ids`` that have one."""
        return dict(self.rows_in("SELECT article_id, word_count FROM articles WHERE article_id IN ({}) "
                                 "AND word_count IS NOT NULL", sorted(set(ids))))
