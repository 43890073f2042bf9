"""Issue 12: near-duplicates found by index lookups and clusters updated for what changed
give the same links and clusters as checking everything at once (the newsroom's run)."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from newsroom import Newsroom
from test_story_pipeline import newswatch, rows

from pipeline.content import dedup
from pipeline.store import Batch, open_writer

NOW = datetime(2026, 6, 30, tzinfo=timezone.utc)
LINKS = "SELECT article_a, article_b, relation, jaccard, containment FROM dup_links ORDER BY 1, 2"
CLUSTERS = "SELECT article_id, cluster_id, is_origin FROM clusters ORDER BY 1"


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("incremental")
    with Newsroom() as room:
        config = room.write_config(tmp / "config", tmp / "newswatch.duckdb")
        result = newswatch(config, "run", "--all")
        assert result.returncode == 0, result.stderr
    return tmp / "newswatch.duckdb"


def test_articles_checked_in_three_batches_give_the_links_and_clusters_of_one_pass(ran, tmp_path):
    """Articles arriving over three runs: each run checks its own and reclusters only what
    they touch; the result equals the run's single pass and a full rebuild."""
    links, clusters = rows(ran, LINKS), rows(ran, CLUSTERS)
    assert sum(1 for c in clusters if not c[2]) > 3, "the newsroom should have copies"
    copy = tmp_path / "copy.duckdb"
    shutil.copy(ran, copy)
    store = open_writer(copy)
    try:
        store.reset_dedup()
        store.con.execute("DELETE FROM clusters")
        ids = [r[0] for r in store.query("SELECT article_id FROM articles WHERE dedup_at IS NULL "
                                         "AND status IN ('extracted', 'reference') ORDER BY hash(article_id)")[1]]
        thirds = [ids[i::3] for i in range(3)]
        store.con.execute("UPDATE articles SET dedup_at = ? WHERE article_id IN (SELECT unnest(?::VARCHAR[]))",
                          [NOW, thirds[1] + thirds[2]])
        for arriving in (thirds[1], thirds[2], []):
            dedup.link_pending(store, NOW)
            dedup.recluster(store)
            store.con.execute("UPDATE articles SET dedup_at = NULL WHERE article_id IN (SELECT unnest(?::VARCHAR[]))",
                              [arriving])
        assert store.query(LINKS)[1] == links
        assert store.query(CLUSTERS)[1] == clusters
        dedup.recluster(store, full=True)
        assert store.query(CLUSTERS)[1] == clusters
    finally:
        store.close()


def test_title_keys_of_a_warehouse_from_before_are_filled_in_once(ran, tmp_path):
    """A warehouse upgraded to migration 0012 has no title keys for the articles it
    already checked; the next pass computes them, so the title rule still finds them."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(ran, copy)
    store = open_writer(copy)
    try:
        expected = store.query("SELECT * FROM title_keys ORDER BY 1")[1]
        assert expected, "the newsroom's articles have titles"
        store.con.execute("DELETE FROM title_keys")
        store.con.execute("INSERT INTO store_tasks VALUES ('title_keys')")
        dedup.link_pending(store, NOW)
        assert store.query("SELECT * FROM title_keys ORDER BY 1")[1] == expected
        assert not store.task_pending("title_keys")
    finally:
        store.close()


def test_a_page_that_no_longer_yields_an_article_leaves_its_cluster(ran, tmp_path):
    """Re-extraction (issue 9) drops a changed article's links; when the page turned into a
    failure it is never checked again, yet its cluster must still be recomputed."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(ran, copy)
    store = open_writer(copy)
    try:
        gone = store.scalar("SELECT min(article_id) FROM clusters WHERE NOT is_origin")
        store.save_batch(Batch(articles=[{"article_id": gone, "status": "failed", "fail_reason": "extract/empty",
                                          "updated_at": NOW}], relink=[gone]))
        dedup.link_pending(store, NOW)
        dedup.recluster(store)
        incremental = store.query(CLUSTERS)[1]
        assert gone not in {r[0] for r in incremental}
        dedup.recluster(store, full=True)
        assert store.query(CLUSTERS)[1] == incremental
    finally:
        store.close()
