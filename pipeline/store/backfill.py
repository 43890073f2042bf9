"""Backfill's queries: load the shards of finished archive files in one set-based
transaction, and copy a story's tables and views out as Parquet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from pipeline.store.parquet import quote

# Columns of the shards that are not article columns (the loader's own inputs).
_EXTRA = ("url_keys", "minhash", "bands", "outlet_name", "outlet_domain", "outlet_configured",
          "warc_key", "warc_name", "record_id", "record_offset", "captured_at", "source", "month")


class BackfillQueries:
    con: Any

    def loaded_warc_keys(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT warc_key FROM backfill_files").fetchall()}

    def load_backfill(self, glob: str | None, files: Sequence[dict[str, Any]], run_id: int,
                      now: datetime) -> dict[str, int]:
        """Load every shard row of ``files`` (manifests of finished files) at once. A page
        whose URL already leads to an article is a new sighting of it, not a new article;
        of several captures of one article the earliest is its row; every capture is a
        sighting of channel 'backfill'. Rerunning it adds nothing."""
        before = self._backfill_counts()
        with self.transaction():  # type: ignore[attr-defined]
            if glob is not None:
                self._stage(glob, [f["key"] for f in files])
                self._insert_staged(run_id)
            self.con.execute(
                "INSERT INTO backfill_files SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
                "unnest(?::INTEGER[]), unnest(?::INTEGER[]), ?, ? ON CONFLICT DO NOTHING",
                [[f["key"] for f in files], [Path(f["warc"]).name for f in files], [f["warc"] for f in files],
                 [f.get("records", 0) for f in files], [f.get("kept", 0) for f in files], now, run_id])
        after = self._backfill_counts()
        revived = self.con.execute("SELECT count(*) FROM bf_revive").fetchone()[0] if glob is not None else 0
        return {"new_articles": after[0] - before[0], "new_sightings": after[1] - before[1],
                "failed_replaced": int(revived)}

    def _backfill_counts(self) -> tuple[int, int]:
        row = self.con.execute("SELECT (SELECT count(*) FROM articles), "
                               "(SELECT count(*) FROM sightings WHERE source_id = 'backfill')").fetchone()
        return int(row[0]), int(row[1])

    def _stage(self, glob: str, keys: list[str]) -> None:
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE bf_rows AS SELECT * FROM "
            f"read_parquet('{quote(glob)}', hive_partitioning = true, union_by_name = true) "
            "WHERE warc_key IN (SELECT unnest(?::VARCHAR[])) "
            "QUALIFY row_number() OVER (PARTITION BY warc_key, record_id ORDER BY record_offset) = 1", [keys])
        # An article reached before by any of the page's URLs keeps its id.
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE bf_ids AS "
            "WITH k AS (SELECT warc_key, record_id, article_id, unnest(url_keys) AS url_key FROM bf_rows) "
            "SELECT k.warc_key, k.record_id, coalesce(min(u.article_id), min(k.article_id)) AS final_id, "
            "count(u.article_id) > 0 AS known FROM k LEFT JOIN article_urls u USING (url_key) "
            "GROUP BY k.warc_key, k.record_id")
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE bf_new AS SELECT r.*, i.final_id FROM bf_rows r "
            "JOIN bf_ids i USING (warc_key, record_id) "
            "WHERE NOT i.known AND i.final_id NOT IN (SELECT article_id FROM articles) "
            "QUALIFY row_number() OVER (PARTITION BY i.final_id "
            "ORDER BY r.captured_at, r.warc_name, r.record_offset) = 1")
        # A page a fetch could not read, archived: its earliest capture becomes the article.
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE bf_revive AS SELECT r.*, i.final_id FROM bf_rows r "
            "JOIN bf_ids i USING (warc_key, record_id) JOIN articles a ON a.article_id = i.final_id "
            "WHERE i.known AND a.status = 'failed' QUALIFY row_number() OVER (PARTITION BY i.final_id "
            "ORDER BY r.captured_at, r.warc_name, r.record_offset) = 1")

    def _insert_staged(self, run_id: int) -> None:
        # The channel of every archive sighting: inactive, so never due and not in source_health.
        self.con.execute("INSERT INTO sources (source_id, kind, url, active) "
                         "VALUES ('backfill', 'backfill', 'warc:', FALSE) ON CONFLICT DO NOTHING")
        self.con.execute(
            "INSERT INTO outlets SELECT outlet_id, any_value(outlet_name), any_value(outlet_domain), FALSE, "
            "min(captured_at) FROM bf_new WHERE outlet_id IS NOT NULL AND NOT outlet_configured "
            "GROUP BY outlet_id ON CONFLICT DO NOTHING")
        cols = self._article_columns()
        self.con.execute(f"INSERT INTO articles (article_id, run_id, {', '.join(cols)}) "
                         f"SELECT final_id, ?, {', '.join(cols)} FROM bf_new", [run_id])
        self._revive_failed(cols, run_id)
        self.con.execute("INSERT INTO fingerprints SELECT final_id, minhash FROM bf_new")
        # Only new articles are here, so their band keys cannot be in the table yet.
        self.con.execute("INSERT INTO lsh_bands SELECT DISTINCT unnest(bands), final_id FROM bf_new")
        self.con.execute(
            "INSERT INTO article_urls SELECT url_key, min(final_id) FROM (SELECT unnest(r.url_keys) AS url_key, "
            "i.final_id FROM bf_rows r JOIN bf_ids i USING (warc_key, record_id)) GROUP BY url_key "
            "ON CONFLICT DO NOTHING")
        self.con.execute(
            "INSERT INTO sightings (source_id, entry_key, article_id, link, title, published_at, first_seen_at, "
            "last_seen_at, run_id) SELECT 'backfill', r.warc_name || '#' || r.record_id, i.final_id, r.url, "
            "r.title, r.published_at, r.captured_at, r.captured_at, ? FROM bf_rows r "
            "JOIN bf_ids i USING (warc_key, record_id) ON CONFLICT DO NOTHING", [run_id])

    def _revive_failed(self, cols: list[str], run_id: int) -> None:
        """Failed articles found in an archive get the archived page's row (an upsert, as
        ``run`` does when a retry succeeds; the id, canonical URL and first sighting stay)
        and are fingerprinted, linked and scored again on their text."""
        ids = [r[0] for r in self.con.execute("SELECT final_id FROM bf_revive").fetchall()]
        if not ids:
            return
        cleared = {"run_id": "excluded.run_id", "fail_reason": "NULL", "fail_transient": "NULL", "dedup_at": "NULL"}
        sets = ", ".join([f"{c} = excluded.{c}" for c in cols if c not in ("canonical_url", "first_seen_at", *cleared)]
                         + [f"{c} = {v}" for c, v in cleared.items()])
        stale = self._window_holders(ids)  # type: ignore[attr-defined]
        self.con.execute(f"INSERT INTO articles (article_id, run_id, {', '.join(cols)}) "
                         f"SELECT final_id, ?, {', '.join(cols)} FROM bf_revive "
                         f"ON CONFLICT (article_id) DO UPDATE SET {sets}", [run_id])
        self._forget_windows(stale)  # type: ignore[attr-defined]
        self.con.execute("DELETE FROM lsh_bands WHERE article_id IN (SELECT final_id FROM bf_revive)")
        self.con.execute("INSERT INTO fingerprints SELECT final_id, minhash FROM bf_revive "
                         "ON CONFLICT (article_id) DO UPDATE SET minhash = excluded.minhash")
        self.con.execute("INSERT INTO lsh_bands SELECT DISTINCT unnest(bands), final_id FROM bf_revive")
        self.con.execute("DELETE FROM story_scores WHERE article_id IN (SELECT final_id FROM bf_revive)")
        self._forget_links(ids)  # type: ignore[attr-defined]

    def _article_columns(self) -> list[str]:
        """Article columns the shards carry (so a column added to articles later and to
        the shard rows with it needs no change here)."""
        have = {r[0] for r in self.con.execute("SELECT column_name FROM information_schema.columns "
                                               "WHERE table_name = 'articles'").fetchall()}
        staged = [r[0] for r in self.con.execute("SELECT column_name FROM information_schema.columns "
                                                 "WHERE table_name = 'bf_rows'").fetchall()]
        return [c for c in staged if c in have and c not in ("article_id", "run_id") and c not in _EXTRA]


# -- snapshots ------------------------------------------------------------------------------

# (name, query) of a story's snapshot; {story} is the story id as a SQL literal. Facts are
# limited to the articles scored for the story; conclusions and views to the story.
_SCORED = "(SELECT article_id FROM story_scores WHERE story_id = {story})"
SNAPSHOT = (
    ("story_scores", "SELECT * FROM story_scores WHERE story_id = {story}"),
    ("judgments", "SELECT * FROM judgments WHERE story_id = {story}"),  # what people decided (0014)
    ("articles", f"SELECT * FROM articles WHERE article_id IN {_SCORED}"),
    ("article_urls", f"SELECT * FROM article_urls WHERE article_id IN {_SCORED}"),
    ("sightings", f"SELECT * FROM sightings WHERE article_id IN {_SCORED}"),
    ("sources", "SELECT * FROM sources"),
    ("outlets", "SELECT * FROM outlets"),
    ("clusters", f"SELECT * FROM clusters WHERE article_id IN {_SCORED}"),
    ("dup_links", f"SELECT * FROM dup_links WHERE article_a IN {_SCORED} OR article_b IN {_SCORED}"),
    ("backfill_files", "SELECT * FROM backfill_files"),
    ("story_articles", "SELECT * FROM story_articles WHERE story_id = {story}"),
    ("story_daily", "SELECT * FROM story_daily WHERE story_id = {story}"),
    ("story_timeline", "SELECT * FROM story_timeline WHERE story_id = {story}"),
    ("story_coverage_by_outlet", "SELECT * FROM story_coverage_by_outlet WHERE story_id = {story}"),
    ("story_share_by_outlet", "SELECT * FROM story_share_by_outlet WHERE story_id = {story}"),
    ("discovery_channels", "SELECT * FROM discovery_channels"),
)


class SnapshotQueries:
    con: Any

    def export_story(self, story_id: str, folder: Path) -> dict[str, int]:
        """Each table and view of the snapshot as ``<name>.parquet`` in ``folder``;
        returns the rows of each."""
        story = "'" + story_id.replace("'", "''") + "'"
        rows = {}
        for name, sql in SNAPSHOT:
            query = sql.format(story=story)
            self.con.execute(f"COPY ({query}) TO '{quote(folder / (name + '.parquet'))}' (FORMAT parquet)")
            rows[name] = int(self.con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0])
        return rows
