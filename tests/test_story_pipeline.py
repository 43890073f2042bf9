"""Issue 3 end to end: relevance, near-duplicates and clusters through `newswatch run`.

One ingest of the loopback newsroom (through the real command) is shared by the module;
tests that change the configuration work on their own copy of the folder and warehouse.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from newsroom import Newsroom

from pipeline.content import dedup
from pipeline.content import fingerprint as fp
from pipeline.store import Batch, article_id_for, open_writer

NEWSWATCH = [sys.executable, "-m", "pipeline.cli"]


def newswatch(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_proxy") and not k.endswith("_PROXY")}
    return subprocess.run([*NEWSWATCH, "--config", str(config), *args], capture_output=True, text=True,
                          env=env, cwd=config.parent, timeout=120)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("story")
    with Newsroom() as room:
        config = room.write_config(tmp / "config", tmp / "newswatch.duckdb")
        result = newswatch(config, "run", "--all")
        assert result.returncode == 0, result.stderr
        yield room, config, tmp / "newswatch.duckdb"


def rows(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def article_ids(room: Newsroom, warehouse: Path) -> dict[str, str]:
    """newsroom slug -> warehouse article id (through the URL alias table)."""
    found = {}
    for a in room.live_articles():
        hit = rows(warehouse, "SELECT article_id FROM article_urls WHERE url_key = ?",
                   [fp.canonical_url(room.url(a.path))])
        if hit:
            found[a.slug] = hit[0][0]
    return found


def test_every_live_article_was_loaded(ingested):
    room, _, warehouse = ingested
    ids = article_ids(room, warehouse)
    assert set(ids) == {a.slug for a in room.live_articles()}


def test_off_topic_articles_are_kept_as_facts_but_not_counted(ingested):
    room, _, warehouse = ingested
    ids = article_ids(room, warehouse)
    counted = {r[0] for r in rows(warehouse, "SELECT article_id FROM story_articles WHERE story_id = 'rsi-pause'")}
    decided = dict(rows(warehouse, "SELECT article_id, decision FROM story_scores WHERE story_id = 'rsi-pause'"))
    for a in room.live_articles():
        assert ids[a.slug] in decided, f"{a.slug} has no score"
        assert (ids[a.slug] in counted) == a.on_topic, f"{a.slug}: {decided[ids[a.slug]]}"


def test_copies_share_a_cluster_with_their_origin_which_came_first(ingested):
    room, _, warehouse = ingested
    ids = article_ids(room, warehouse)
    cluster = {r[0]: (r[1], r[2]) for r in rows(warehouse, "SELECT article_id, cluster_id, is_origin FROM clusters")}
    copies = [a for a in room.live_articles() if a.copy_of]
    assert copies, "the newsroom should publish syndicated copies"
    for copy in copies:
        original = room.article(copy.copy_of)
        assert cluster[ids[copy.slug]][0] == cluster[ids[original.slug]][0], copy.slug
        first = min((copy, original), key=lambda a: a.published)
        assert cluster[ids[first.slug]][1] is True
        later = copy if first is original else original
        assert cluster[ids[later.slug]][1] is False


def test_seed_pages_share_a_cluster_with_the_reference_article(ingested):
    room, _, warehouse = ingested
    ids = article_ids(room, warehouse)
    reference = dict(rows(warehouse, "SELECT reference_file, article_id FROM articles WHERE is_reference"))
    cluster = dict(rows(warehouse, "SELECT article_id, cluster_id FROM clusters"))
    seeded = [a for a in room.live_articles() if a.seed]
    assert seeded
    for a in seeded:
        assert cluster[ids[a.slug]] == cluster[reference[a.seed]], a.slug


def test_different_articles_on_the_story_are_not_grouped(ingested):
    room, _, warehouse = ingested
    ids = article_ids(room, warehouse)
    cluster = dict(rows(warehouse, "SELECT article_id, cluster_id FROM clusters"))
    family = {a.slug: (a.copy_of or a.slug) for a in room.live_articles()}
    # Seed pages of one seed are one text: group them by seed file too.
    family.update({a.slug: a.seed for a in room.live_articles() if a.seed and not a.copy_of})
    on_topic = [a for a in room.live_articles() if a.on_topic]
    for i, a in enumerate(on_topic):
        for b in on_topic[i + 1:]:
            if _root(family, a) != _root(family, b):
                assert cluster[ids[a.slug]] != cluster[ids[b.slug]], (a.slug, b.slug)


def _root(family: dict[str, str], article) -> str:
    seen = article.slug
    while family.get(seen, seen) != seen and family.get(seen) in family:
        seen = family[seen]
    return family.get(seen, seen)


def test_story_counts_per_outlet_leave_out_copies_and_off_topic(ingested):
    room, _, warehouse = ingested
    got = {r[0]: (r[1], r[2]) for r in rows(
        warehouse, "SELECT outlet_id, original_articles, copies_carried FROM story_coverage_by_outlet "
                   "WHERE story_id = 'rsi-pause'")}
    live = room.live_articles()
    for slug in room.outlets:
        originals = sum(1 for a in live if a.outlet == slug and a.on_topic and not a.copy_of)
        copies = sum(1 for a in live if a.outlet == slug and a.on_topic and a.copy_of)
        assert got.get(slug, (0, 0)) == (originals, copies), slug


def test_timeline_and_share_views_agree_with_the_articles(ingested):
    room, _, warehouse = ingested
    timeline = rows(warehouse, "SELECT outlet_id, rank, after_first FROM story_timeline "
                               "WHERE story_id = 'rsi-pause' AND outlet_id IN "
                               f"({', '.join(repr(s) for s in room.outlets)}) ORDER BY rank")
    firsts = {}
    for a in room.live_articles():
        if a.on_topic:
            firsts[a.outlet] = min(firsts.get(a.outlet, a.published), a.published)
    order = sorted(firsts, key=firsts.get)
    assert [t[0] for t in timeline] == order
    assert timeline[0][2].total_seconds() == 0
    earliest = firsts[order[0]]
    for outlet_id, _, after in timeline:
        assert after == firsts[outlet_id] - earliest
    share = rows(warehouse, "SELECT outlet_id, day, story_articles, all_articles, share FROM story_share_by_outlet "
                            "WHERE story_id = 'rsi-pause'")
    for outlet_id, day, story_n, all_n, ratio in share:
        day_articles = [a for a in room.live_articles() if a.outlet == outlet_id and a.published.date() == day]
        assert all_n == len(day_articles)
        assert story_n == sum(1 for a in day_articles if a.on_topic)
        assert ratio == pytest.approx(story_n / all_n, abs=0.001)


def test_explain_shows_terms_nearest_seed_and_cluster(ingested):
    room, config, _ = ingested
    copy = next(a for a in room.live_articles() if a.copy_of)
    out = newswatch(config, "explain", room.url(copy.path))
    assert out.returncode == 0, out.stderr
    assert "RELEVANT" in out.stdout and "nearest seed:" in out.stdout
    # the default story names counter-examples: explain names the nearest of them too
    assert "nearest counter-example:" in out.stdout
    assert "<- this article" in out.stdout and "origin" in out.stdout
    origin_outlet = room.outlets[room.article(copy.copy_of).outlet].name
    assert origin_outlet in out.stdout
    off = next(a for a in room.live_articles() if not a.on_topic)
    out = newswatch(config, "explain", room.url(off.path))
    assert out.returncode == 0 and "NOT" in out.stdout
    missing = newswatch(config, "explain", room.url("/nowhere/at/all.html"))
    assert missing.returncode == 4 and "no article known" in missing.stderr


def test_rescore_applies_a_changed_story_without_fetching(ingested, tmp_path):
    room, config, warehouse = ingested
    copy_config = tmp_path / "config"
    shutil.copytree(config, copy_config)
    shutil.copy(warehouse, tmp_path / "newswatch.duckdb")
    _point_at(copy_config / "newswatch.toml", tmp_path / "newswatch.duckdb")
    story_file = copy_config / "stories" / "rsi-pause.toml"
    import re
    story_file.write_text(re.sub(r"(?m)^relevant = .*$", "relevant = 0.999", story_file.read_text())
                          .replace("borderline = 0.4", "borderline = 0.99"))
    before = len(room.requests)
    out = newswatch(copy_config, "rescore")
    assert out.returncode == 0, out.stderr
    assert len(room.requests) == before, "rescore must not fetch anything"
    counted = rows(tmp_path / "newswatch.duckdb", "SELECT count(*) FROM story_articles WHERE NOT is_reference")[0][0]
    scores = rows(tmp_path / "newswatch.duckdb", "SELECT count(*) FROM story_scores WHERE NOT decision = 'relevant' "
                  "AND score < 0.999")[0][0]
    originally = rows(warehouse, "SELECT count(*) FROM story_articles WHERE NOT is_reference")[0][0]
    assert counted < originally
    assert scores > 0


def _point_at(main_toml: Path, warehouse: Path) -> None:
    text = main_toml.read_text().splitlines()
    fixed = [f'path = "{warehouse}"' if line.strip().startswith("path =") else line for line in text]
    main_toml.write_text("\n".join(fixed) + "\n")


def test_eval_prints_scorer_and_baseline_figures(ingested):
    _, config, _ = ingested
    labelled = Path(__file__).parent / "data" / "labelled"
    out = newswatch(config, "eval", "--labelled", str(labelled), "--json")
    assert out.returncode == 0, out.stderr
    results = {r["method"]: r for r in json.loads(out.stdout)}
    assert set(results) == {"tfidf+terms", "keyword"}
    import tomllib
    labels = tomllib.loads((labelled / "labels.toml").read_text())["article"]
    n_test = sum(1 for a in labels if a["split"] == "test" and a["story"] == "rsi-pause")
    for r in results.values():
        assert r["tp"] + r["fp"] + r["fn"] + r["tn"] == n_test
    table = newswatch(config, "eval", "--labelled", str(labelled))
    assert "precision" in table.stdout and "keyword" in table.stdout


def test_same_title_same_outlet_within_a_week_is_one_story(tmp_path):
    """Media Cloud's rule, on a real warehouse: a republished story at a new URL."""
    store = open_writer(tmp_path / "w.duckdb")
    now = datetime(2026, 6, 10, tzinfo=timezone.utc)
    texts = ["First version of the report. " * 40, "Entirely rewritten second version, other words. " * 40,
             "Unrelated item about the harbour regatta results. " * 40]
    spec = [("u1", "Council approves the harbour plan", texts[0], datetime(2026, 6, 1, tzinfo=timezone.utc)),
            ("u2", "Council approves the harbour plan", texts[1], datetime(2026, 6, 5, tzinfo=timezone.utc)),
            ("u3", "Council approves the harbour plan", texts[2], datetime(2026, 6, 20, tzinfo=timezone.utc))]
    batch = Batch(outlets=[("harbor", "Harbor", "harbor.test", now)])
    for slug, title, text, published in spec:
        print_ = fp.fingerprint(text)
        aid = article_id_for(f"https://harbor.test/{slug}")
        batch.articles.append({"article_id": aid, "canonical_url": f"https://harbor.test/{slug}",
                               "url": f"https://harbor.test/{slug}", "outlet_id": "harbor", "status": "extracted",
                               "title": title, "body": text, "content_hash": print_.content_hash,
                               "word_count": print_.word_count, "published_at": published,
                               "first_seen_at": now, "updated_at": now})
        batch.fingerprints.append((aid, list(print_.minhash), list(print_.bands)))
    store.save_batch(batch)
    dedup.link_pending(store, now)
    dedup.recluster(store)
    links = store.query("SELECT relation, count(*) FROM dup_links GROUP BY 1")[1]
    clusters = Counter(r[0] for r in store.query("SELECT cluster_id FROM clusters")[1])
    store.close()
    assert dict(links) == {"title": 1}  # u1-u2 (4 days apart); u3 is 19 days after u1
    assert sorted(clusters.values()) == [1, 2]


def test_every_article_is_scored_against_every_story(tmp_path):
    """Two stories at once: a neighbouring story ("pause" in the rate-setting sense) has
    its own reference set and terms; each article gets a decision per story, and the
    story views keep the stories apart."""
    rate_dir = Path(__file__).parent / "data" / "stories" / "rate-pause"
    with Newsroom() as room:
        config = room.write_config(tmp_path / "config", tmp_path / "newswatch.duckdb")
        story = (rate_dir / "rate-pause.toml").read_text().replace("REFERENCE", str(rate_dir / "reference"))
        (config / "stories" / "rate-pause.toml").write_text(story)
        result = newswatch(config, "run", "--all")
        assert result.returncode == 0, result.stderr
        warehouse = tmp_path / "newswatch.duckdb"
        ids = article_ids(room, warehouse)
    decisions = {(r[0], r[1]): r[2] for r in rows(warehouse, "SELECT story_id, article_id, decision FROM story_scores")}
    rates = room.article("fw-rates-hold")
    for a in room.live_articles():
        assert ("rsi-pause", ids[a.slug]) in decisions and ("rate-pause", ids[a.slug]) in decisions
        expected = "relevant" if a.slug == rates.slug else "not"
        assert decisions[("rate-pause", ids[a.slug])] == expected, a.slug
    assert decisions[("rsi-pause", ids[rates.slug])] == "not"
    per_story = dict(rows(warehouse, "SELECT story_id, sum(original_articles) FROM story_coverage_by_outlet "
                                     "GROUP BY 1"))
    assert per_story["rate-pause"] == 1
    assert per_story["rsi-pause"] > 1
