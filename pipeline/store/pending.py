"""Backfill shards seen in place: the view ``backfill_pending`` over the Parquet shards of
finished archive files that the coordinator has not loaded yet, so ``all_articles`` (and
the coverage views over it) count them before the load and exactly once after it.

A view is bound when it is created, and ``read_parquet`` of a pattern that matches no
file raises; so the view reads a folder only while that folder holds an empty "schema"
shard with every column (written here, beside the shards), and only while some file is
finished and not loaded (or a backfill is under way); otherwise it is an empty view of
``articles``' columns. The writer redefines it whenever it opens the warehouse and before
and after each backfill; workers never touch the warehouse.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.store.parquet import quote

# Shard columns the view needs beyond the article columns (written by backfill.task).
_SHARD_EXTRA = ("warc_key VARCHAR", "warc_name VARCHAR", "record_offset BIGINT", "captured_at TIMESTAMPTZ",
                "url_keys VARCHAR[]")
_EMPTY = "SELECT * FROM articles WHERE FALSE"
# A manifest's file name is its archive file's key.
_KEY = "regexp_extract(file, '([^/]+)\\.json$', 1)"


class PendingQueries:
    con: Any

    def register_backfill_shards(self, root: Path, layout: dict[str, str], active: bool, now: datetime) -> None:
        """Remember a shard folder (``layout``: its ``files`` pattern, which also matches
        ``schema_file``, and ``manifests`` pattern) and redefine the view. ``active``: a
        backfill into it is starting (True) or has loaded what finished (False)."""
        schema = Path(layout["schema_file"])
        schema.parent.mkdir(parents=True, exist_ok=True)
        extra = ", ".join(f"NULL::{t.split()[1]} AS {t.split()[0]}" for t in _SHARD_EXTRA)
        # Rewritten each time: a migration may have added article columns since.
        self.con.execute(f"COPY (SELECT *, {extra} FROM articles WHERE FALSE) TO '{quote(schema)}' (FORMAT parquet)")
        self.con.execute(
            "INSERT INTO backfill_shards VALUES (?, ?, ?, ?, ?) ON CONFLICT (shard_glob) DO UPDATE SET "
            "manifest_glob = excluded.manifest_glob, schema_file = excluded.schema_file, "
            "active = excluded.active, registered_at = excluded.registered_at",
            [layout["files"], layout["manifests"], str(schema), active, now])
        self.define_backfill_pending()

    def define_backfill_pending(self) -> int:
        """(Re)define ``backfill_pending``; returns how many shard folders it reads."""
        folders = self.con.execute("SELECT shard_glob, manifest_glob, schema_file, active FROM backfill_shards "
                                   "ORDER BY shard_glob").fetchall()
        shown = [(files, manifests) for files, manifests, schema, active in folders
                 if Path(schema).is_file() and (active or self._unloaded(manifests))]
        sql = " UNION ALL ".join(self._pending_sql(f, m) for f, m in shown) or _EMPTY
        self.con.execute(f"CREATE OR REPLACE VIEW backfill_pending AS {sql}")
        return len(shown)

    def _unloaded(self, manifests: str) -> int:
        return int(self.con.execute(
            f"SELECT count(*) FROM glob('{quote(manifests)}') WHERE {_KEY} NOT IN "
            "(SELECT warc_key FROM backfill_files)").fetchone()[0])

    def _pending_sql(self, files: str, manifests: str) -> str:
        """One row per article of the folder's finished, unloaded files: its earliest
        capture, as the loader would make it; a page of a URL the warehouse already knows
        is a sighting once loaded, not an article, so it is left out here too."""
        types = self.con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'articles' ORDER BY ordinal_position").fetchall()
        cols = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in types)
        return (
            f"SELECT {cols} FROM (WITH r AS (SELECT * FROM read_parquet('{quote(files)}', hive_partitioning = true, "
            f"union_by_name = true) WHERE warc_key IN (SELECT {_KEY} FROM glob('{quote(manifests)}')) "
            "AND warc_key NOT IN (SELECT warc_key FROM backfill_files)), "
            "known AS (SELECT k.article_id FROM (SELECT article_id, unnest(url_keys) AS url_key FROM r) k "
            "JOIN article_urls USING (url_key)) "
            "SELECT * FROM r WHERE article_id NOT IN (SELECT article_id FROM known) "
            "AND article_id NOT IN (SELECT article_id FROM articles) "
            "QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY captured_at, warc_name, record_offset) = 1)")

