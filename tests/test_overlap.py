"""The counting path of the near-duplicate check (``overlap``, ``dedup._Pairs``) makes the
decisions of the pair-by-pair set path (``neardup.compare_shingles``) on the same texts:
copies, excerpts, passages, templates of one and of two outlets, the reference text."""

from __future__ import annotations

import random

import numpy as np
import pytest

from pipeline.content import dedup, neardup
from pipeline.content import fingerprint as fp
from pipeline.content.overlap import Overlaps, Shingled, TextCache, as_array, count_in, without

VOCAB = [f"w{i}" for i in range(400)]


def _texts(rng: random.Random) -> dict[str, str]:
    """Originals, copies under other furniture, excerpts, passages, briefs, exact repeats."""
    furniture = {o: " ".join(rng.choice(VOCAB) for _ in range(70)) for o in ("o1", "o2")}
    reference = " ".join(rng.choice(VOCAB) for _ in range(300))
    originals = [" ".join(rng.choice(VOCAB) for _ in range(rng.choice([40, 120, 400]))) for _ in range(6)]
    texts = {"ref": reference}
    for i, body in enumerate(originals):
        words = body.split()
        outlet = f"o{1 + i % 2}"
        texts[f"{outlet}-orig{i}"] = f"{furniture[outlet]} {body}"
        texts[f"o{2 - i % 2}-copy{i}"] = f"{' '.join(words[: int(len(words) * 0.8)])} {furniture[f'o{2 - i % 2}']}"
        texts[f"{outlet}-excerpt{i}"] = " ".join(words[: len(words) // 3])
        texts[f"o{2 - i % 2}-passage{i}"] = (" ".join(rng.choice(VOCAB) for _ in range(200)) + " "
                                               + " ".join(words[50:130]) + " " + reference[:400])
        texts[f"none-quote{i}"] = reference[: 300 + 40 * i] + " " + " ".join(words[:60])
        half = words[: len(words) // 3]  # containment 0.8-0.9 at Jaccard < 0.3: a few words changed
        for at in range(3, len(half), 40):
            half[at] = "changed"
        texts[f"o{2 - i % 2}-trimmed{i}"] = " ".join(half)
        # Corners where one rule alone makes the link: a 65-word snippet inside a long
        # text (containment 0.8-0.9, under 60 shared), two briefs sharing most words
        # (Jaccard over 0.5, containment under 0.8, under 60 shared).
        if len(words) >= 400:
            snippet = words[100:165]
            snippet[20] = snippet[45] = "changed"
            texts[f"none-snippet{i}"] = " ".join(snippet)
        brief = [rng.choice(VOCAB) for _ in range(80)]
        texts[f"none-brief{i}"] = " ".join(brief)
        texts[f"none-briefb{i}"] = " ".join(w if at % 19 != 9 else "other" for at, w in enumerate(brief))
    texts["o1-same"] = texts["o1-orig0"]
    return texts


def _setting(texts: dict[str, str], rng: random.Random) -> dedup._Setting:
    shingles = {a: fp.shingles(t) for a, t in texts.items()}
    outlets = {a: a.split("-")[0] for a in texts if not a.startswith(("none", "ref"))}
    templates = {}
    for outlet in ("o1", "o2"):
        mine = [shingles[a] for a in texts if outlets.get(a) == outlet]
        learnt = neardup.template_shingles(mine) | frozenset(rng.sample(sorted(mine[0]), 20))
        templates.update({a: learnt for a in texts if outlets.get(a) == outlet})
    return dedup._Setting(templates, outlets, frozenset(shingles["ref"]), frozenset({"ref"}))


def _by_sets(me: str, other: str, texts: dict[str, str], setting: dedup._Setting) -> dedup.Link | None:
    none: frozenset[int] = frozenset()
    ignore = setting.templates.get(me, none) | setting.templates.get(other, none)
    if setting.quotes(me, other):
        ignore |= setting.quoted
    a, b = fp.words(texts[me]), fp.words(texts[other])
    match = neardup.compare_shingles(fp.shingles_of_words(a), fp.shingles_of_words(b), len(a), len(b),
                                     exact=bool(a) and a == b, ignore=ignore, passage=setting.passage(me, other))
    return dedup._pair(me, other, match.relation, match.jaccard, match.containment) if match.duplicate else None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counting_path_makes_the_set_paths_decisions(seed: int) -> None:
    rng = random.Random(seed)
    texts = _texts(rng)
    setting = _setting(texts, rng)
    pairs = dedup._Pairs({a: Shingled.of(t) for a, t in texts.items()}, setting)
    relations = set()
    for me in texts:
        others = sorted(set(texts) - {me})
        expected = sorted(link for o in others for link in [_by_sets(me, o, texts, setting)] if link)
        assert pairs.links(me, others) == expected, me
        relations |= {link[2] for link in expected}
    assert relations == {"exact", "copy", "excerpt", "passage"}  # every rule was exercised


def test_shared_counts_and_set_helpers_are_exact() -> None:
    rng = random.Random(5)
    sets = {f"t{i}": {rng.randrange(2**64) for _ in range(rng.randrange(0, 50))} | set(range(i * 3, 30))
            for i in range(12)}
    arrays = {k: as_array(v) for k, v in sets.items()}
    overlaps = Overlaps(arrays)
    names = sorted(sets)
    for me in names:
        assert overlaps.shared(me, names) == [len(sets[me] & sets[o]) for o in names]
    drop = as_array(sets["t0"] | {2**64 - 1})
    for k, v in sets.items():
        assert set(without(arrays[k], drop).tolist()) == v - sets["t0"]
        assert count_in(arrays[k], drop) == len(v & sets["t0"])


def test_text_cache_shingles_each_text_once_and_stays_bounded() -> None:
    cache = TextCache(size=2)
    first = cache.of("one two three four five six")
    assert cache.of("one two three four five six") is first
    assert set(first.shingles.tolist()) == fp.shingles("one two three four five six") and first.words == 6
    cache.of("a b c d e f g")
    cache.of("h i j k l m n")
    assert cache.of("one two three four five six") is not first  # evicted, shingled anew


def _templates_by_every_pair(texts: list[set[int]]) -> frozenset[int]:
    """``neardup.template_shingles`` as first written: each text tested against every
    distinct one (the oracle for its shortcut)."""
    distinct: list[set[int]] = []
    for shingles in sorted(texts, key=len, reverse=True):
        if not any(fp.containment(shingles, other) >= neardup.EXCERPT_CONTAINMENT for other in distinct):
            distinct.append(shingles)
    counts: dict[int, int] = {}
    for shingles in distinct:
        for h in shingles:
            counts[h] = counts.get(h, 0) + 1
    floor = max(neardup.TEMPLATE_MIN_TEXTS, neardup.TEMPLATE_SHARE * len(distinct))
    return frozenset(h for h, n in counts.items() if n >= floor)


@pytest.mark.parametrize("seed", range(6))
def test_template_shortcut_learns_what_testing_every_pair_learns(seed: int) -> None:
    rng = random.Random(seed)
    furniture = set(range(1000, 1000 + rng.choice([0, 10, 60])))
    pages = [furniture | {rng.randrange(10**6) for _ in range(rng.choice([1, 5, 80]))} for _ in range(30)]
    pages += [set(rng.sample(sorted(p), max(1, int(len(p) * rng.uniform(0.6, 1.0))))) for p in pages[:12]]
    pages += [set(), {5}, {5}]
    learnt = neardup.template_shingles(pages)
    assert learnt == _templates_by_every_pair(pages)
    assert learnt >= furniture


@pytest.mark.parametrize("seed", range(8))
def test_template_by_masks_learns_what_sets_learn_on_64_bit_hashes(seed: int) -> None:
    """``template_of_arrays`` (what ``dedup.learn_templates`` calls) against the every-pair
    oracle on full-width hashes: furniture, shingles on about half the pages (right at
    the floor), pages with 0.8 of their shingles inside another (exactly at the bar, and
    just under it), texts of equal length (order kept), empty texts (they raise the floor)."""
    rng = random.Random(seed)
    furniture = {rng.getrandbits(64) for _ in range(rng.choice([5, 40]))}
    half = [rng.getrandbits(64) for _ in range(40)]
    pages = [furniture | {h for h in half if rng.random() < 0.5} | {rng.getrandbits(64) for _ in range(rng.choice([3, 30]))}
             for _ in range(16)]
    for page in pages[:10]:
        m = len(page) // 5
        inside = set(rng.sample(sorted(page), 4 * m - rng.choice([0, 0, 1])))
        pages.append(inside | {rng.getrandbits(64) for _ in range(5 * m - len(inside))})
    pages += [set(pages[3]), set(), set(), {2**64 - 1}]
    rng.shuffle(pages)
    arrays = [np.array(sorted(p), dtype=np.uint64) for p in pages]
    assert neardup.template_of_arrays(arrays) == _templates_by_every_pair(pages)
    assert neardup.template_of_arrays([]) == frozenset()


def test_band_lookup_by_scan_finds_what_the_index_finds(tmp_path, monkeypatch) -> None:
    """``candidates_of`` scans the band table when that is cheaper (a small warehouse)
    and asks the index otherwise: both give the same candidates."""
    from datetime import datetime, timezone

    from pipeline.store import Batch, analysis, open_writer

    rng = random.Random(9)
    now = datetime(2026, 6, 10, tzinfo=timezone.utc)
    base = [" ".join(rng.choice(VOCAB) for _ in range(300)) for _ in range(6)]
    bodies = base + [" ".join(b.split()[:250]) for b in base] + [b.replace("w1 ", "w2 ") for b in base]
    batch = Batch()
    for i, body in enumerate(bodies):
        print_ = fp.fingerprint(body)
        batch.articles.append({"article_id": f"a{i:02d}", "canonical_url": f"https://t.test/{i}", "url": f"https://t.test/{i}",
                               "status": "extracted", "body": body, "content_hash": print_.content_hash,
                               "word_count": print_.word_count, "first_seen_at": now, "updated_at": now})
        batch.fingerprints.append((f"a{i:02d}", list(print_.minhash), list(print_.bands)))
    store = open_writer(tmp_path / "w.duckdb")
    store.save_batch(batch)
    keys = {a: fp.band_keys(tuple(s)) for a, s in store.signatures([f"a{i:02d}" for i in range(len(bodies))]).items()}
    hashes = {a["article_id"]: a["content_hash"] for a in batch.articles}
    scanned = store.candidates_of(keys, hashes)
    monkeypatch.setattr(analysis, "SCAN_ROWS_PER_KEY", 0)
    assert store.candidates_of(keys, hashes) == scanned
    assert all({f"a{i:02d}", f"a{i + 6:02d}", f"a{i + 12:02d}"} - {f"a{i:02d}"} <= scanned[f"a{i:02d}"] for i in range(6))
    store.close()
