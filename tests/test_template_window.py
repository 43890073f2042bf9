"""Issue 12: each outlet's template window is kept between runs (migration 0016) and a run
merges only the outlet's new pages into it. After every run the kept window and the
learnt template equal what relearning from all of the outlet's pages gives, also after
article rows change under it (a page turning into a failure, a re-extracted text, a
checked page moving outlet), which make the window stale and relearnt."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np

from pipeline.content import dedup, neardup
from pipeline.content import fingerprint as fp
from pipeline.content.overlap import Shingled
from pipeline.store import Batch, open_writer

NOW = datetime(2026, 6, 10, tzinfo=timezone.utc)
VOCAB = [f"w{i}" for i in range(3000)]
OUTLETS = ("o1", "o2", "o3")


def _row(rng: random.Random, i: int, outlet: str, seen: datetime, furniture: dict[str, str]) -> tuple[dict, tuple]:
    body = f"{furniture[outlet]} {' '.join(rng.choice(VOCAB) for _ in range(rng.choice([8, 40])))}"
    print_ = fp.fingerprint(body)
    aid = f"a{i:04d}"
    row = {"article_id": aid, "canonical_url": f"https://t.test/{i}", "url": f"https://t.test/{i}", "outlet_id": outlet,
           "status": "extracted", "body": body, "content_hash": print_.content_hash, "word_count": print_.word_count,
           "first_seen_at": seen, "updated_at": seen, "dedup_at": None}
    return row, (aid, list(print_.minhash), list(print_.bands))


def _arrivals(rng: random.Random, start: int, n: int, now: datetime, furniture: dict[str, str]) -> Batch:
    """``n`` pages: most seen now (ties on purpose), some seen long ago (older than the
    window), spread over the outlets."""
    batch = Batch()
    for i in range(start, start + n):
        seen = now - timedelta(days=30) if rng.random() < 0.2 else now - timedelta(minutes=rng.choice([0, 0, 1, 2]))
        row, fps = _row(rng, i, rng.choice(OUTLETS), seen, furniture)
        batch.articles.append(row)
        batch.fingerprints.append(fps)
    return batch


def _relearnt(store, outlet: str) -> tuple[list[str], int, frozenset[int]]:
    """The window (ids, newest first) and template learnt from all the outlet's pages."""
    pages = store.outlet_pages([outlet], neardup.TEMPLATE_SAMPLE).get(outlet, [])
    texts = [Shingled.of(body).as_set() for _, _, body in pages]
    return [p[0] for p in pages], len(pages), neardup.template_shingles(texts)


def _assert_kept_window_is_a_full_relearn(store) -> None:
    kept = store.template_windows(list(OUTLETS))
    for outlet in OUTLETS:
        ids, n, template = _relearnt(store, outlet)
        stored = store.query("SELECT shingle, texts FROM outlet_template WHERE outlet_id = ?", [outlet])[1]
        assert frozenset(int(s) for s, _ in stored) == template
        assert {t for _, t in stored} <= {n}
        if outlet in kept:
            assert sorted(p[0] for p in kept[outlet]) == sorted(ids)
            bodies = {a: body for a, (_, body) in store.texts_of(ids).items()}
            for aid, _, words, digest, shingles in kept[outlet]:
                text = Shingled.of(bodies[aid])
                assert (words, bytes(digest)) == (text.words, text.digest)
                assert np.array_equal(np.frombuffer(shingles, dtype="<u8"), text.shingles)


def test_kept_windows_learn_what_relearning_everything_learns(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(neardup, "TEMPLATE_SAMPLE", 12)  # a window overflows within a few runs
    monkeypatch.setattr(dedup, "TEMPLATE_GROUP", 2)  # outlets learnt in groups
    rng = random.Random(5)
    furniture = {o: " ".join(rng.choice(VOCAB) for _ in range(30)) for o in OUTLETS}
    store = open_writer(tmp_path / "w.duckdb")
    try:
        now, start = NOW, 0
        for run in range(8):
            now += timedelta(hours=1)
            store.save_batch(_arrivals(rng, start, 9, now, furniture))
            start += 9
            if run == 3:  # the newest kept page fails on a retry: its outlet's window goes
                failed = store.query("SELECT article_id, outlet_id FROM template_pages "
                                     "ORDER BY first_seen_us DESC, article_id LIMIT 1")[1][0]
                store.save_batch(Batch(articles=[{"article_id": failed[0], "status": "failed", "fail_reason": "x"}]))
                assert failed[1] not in store.template_windows(list(OUTLETS))
            if run == 4:  # ... and later succeeds: checked already, so never pending, yet back in the window
                store.save_batch(Batch(articles=[{"article_id": failed[0], "status": "extracted", "fail_reason": None}]))
                assert failed[1] not in store.template_windows(list(OUTLETS))
            if run == 5:  # a kept page moves to another outlet; another gets a new text (reextract)
                moved, old = store.query("SELECT article_id, outlet_id FROM template_pages ORDER BY 1 LIMIT 1")[1][0]
                store.save_batch(Batch(articles=[{"article_id": moved, "outlet_id": next(o for o in OUTLETS if o != old)}]))
                changed, other = store.query("SELECT article_id, outlet_id FROM template_pages ORDER BY 1 LIMIT 1")[1][0]
                body = _row(rng, 9000, other, now, furniture)[0]["body"]
                store.save_batch(Batch(articles=[{"article_id": changed, "body": body, "dedup_at": None}]))
                assert not {old, other} & set(store.template_windows(list(OUTLETS)))
            dedup.link_pending(store, now)
            assert set(store.template_windows(list(OUTLETS))) == set(OUTLETS)
            _assert_kept_window_is_a_full_relearn(store)
    finally:
        store.close()
