"""Syndication pairs found on real coverage and on generated fixtures, before and after
the issue 11 rules (outlet template left out, excerpt links never bridging clusters).

Run: python bench/bench_copies.py [--dev PATH] [--cache DIR]

Real pages: the records of ``coverage-dev.json`` whose text is in the cache (one
``<record id>.json`` with ``text`` per page, built outside the repository; nothing of it
is printed). Truth comes from the labelled syndication groups: two pages of one group
whose types are both ``original`` / ``verbatim`` / ``near_verbatim`` / ``excerpt`` are a
copy pair; a pair with a ``reworded`` or ``translation`` page is not expected from word
shingles and counted apart (neither found nor false); every other pair is a non-copy.
Fixtures: the texts of ``bench_neardup.py`` (seed reports, their copies, roundups).

Each set goes through the pipeline's decisions: MinHash LSH candidates (``BANDS``) and
equal content hashes, ``neardup.compare_shingles``, ``neardup.cluster``; a pair counts as
found when its two pages end in one cluster. "before" is the issue 3 rule (no outlet
template, every link joins); "after" learns each outlet's template from its pages in the
set (``neardup.template_shingles``), leaves out the text of the story's reference
articles (``config/stories``; real pages only: in the fixtures the seeds are the reports),
links pages of different outlets sharing a passage, and clusters with hubs set aside.
No network. Deterministic.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline.content import fingerprint as fp  # noqa: E402
from pipeline.content import neardup  # noqa: E402

COPY_TYPES = frozenset({"original", "verbatim", "near_verbatim", "excerpt"})
NOT_BY_SHINGLES = frozenset({"reworded", "translation"})


@dataclass(frozen=True)
class Page:
    key: str
    outlet: str
    text: str


@dataclass(frozen=True)
class Truth:
    copies: frozenset[frozenset[str]]  # pairs that must share a cluster
    apart: frozenset[frozenset[str]]  # pairs counted neither way (rewordings, quoted items)


def links(pages: list[Page], after: bool, quoted: frozenset[int] = frozenset()) -> list[tuple[str, str, str, float]]:
    """Confirmed links among ``pages`` as the warehouse finds them (candidates first);
    ``quoted``: the shingles of the story's reference articles (left out after)."""
    words = {p.key: fp.words(p.text) for p in pages}
    shingles = {k: fp.shingles_of_words(w) for k, w in words.items()}
    learnt = _templates(pages, shingles) if after else {}
    outlet = {p.key: p.outlet for p in pages}
    none: frozenset[int] = frozenset()
    found = []
    for a, b in _candidates(pages, words, shingles):
        m = neardup.compare_shingles(shingles[a], shingles[b], len(words[a]), len(words[b]),
                                     exact=bool(words[a]) and words[a] == words[b],
                                     ignore=learnt.get(a, none) | learnt.get(b, none) | (quoted if after else none),
                                     passage=after and outlet[a] != outlet[b])
        if m.duplicate:
            found.append((a, b, m.relation, m.jaccard))
    return found


def _templates(pages: list[Page], shingles: dict[str, set[int]]) -> dict[str, frozenset[int]]:
    by_outlet: dict[str, list[str]] = {}
    for p in pages:
        by_outlet.setdefault(p.outlet, []).append(p.key)
    learnt = {o: neardup.template_shingles([shingles[k] for k in keys]) for o, keys in by_outlet.items()}
    return {p.key: learnt[p.outlet] for p in pages}


def _candidates(pages: list[Page], words: dict[str, list[str]], shingles: dict[str, set[int]]) -> list[tuple[str, str]]:
    keys = {k: set(fp.band_keys(fp.minhash_signature(s))) for k, s in shingles.items()}
    out = []
    for a, b in itertools.combinations(sorted(p.key for p in pages), 2):
        if keys[a] & keys[b] or (words[a] and words[a] == words[b]):
            out.append((a, b))
    return out


def score(pages: list[Page], truth: Truth, after: bool, quoted: frozenset[int]) -> tuple[float, float, int, int, int]:
    """(precision, recall, found copy pairs, false pairs, copy pairs) of the clusters."""
    found = links(pages, after, quoted)
    roots = neardup.cluster(found if after else [(a, b) for a, b, *_ in found])
    together = {frozenset(p) for p in itertools.combinations(sorted(roots), 2) if roots[p[0]] == roots[p[1]]}
    judged = together - truth.apart
    tp = len(judged & truth.copies)
    false = len(judged - truth.copies)
    precision = tp / (tp + false) if tp + false else 1.0
    return precision, tp / max(1, len(truth.copies)), tp, false, len(truth.copies)


def report(name: str, pages: list[Page], truth: Truth, quoted: frozenset[int] = frozenset()) -> None:
    print(f"\n## {name}: {len(pages)} pages, {len(truth.copies)} copy pairs, {len(truth.apart)} set apart")
    print(f"  {'rules':<44} {'precision':>9} {'recall':>7} {'found':>6} {'false':>6}")
    for label, after in (("before: issue 3 rules", False), ("after: issue 11 rules", True)):
        p, r, tp, false, _ = score(pages, truth, after, quoted)
        print(f"  {label:<44} {p:9.3f} {r:7.3f} {tp:6d} {false:6d}")


# ------------------------------------------------------------------ real coverage

def real_pages(dev: Path, cache: Path) -> tuple[list[Page], Truth, list[dict]]:
    records = json.loads(dev.read_text(encoding="utf-8"))["records"]
    pages, kept = [], []
    for r in records:
        cached = cache / f"{r['id']}.json"
        if cached.exists():
            text = json.loads(cached.read_text(encoding="utf-8")).get("text") or ""
            if text.strip():
                pages.append(Page(r["id"], r.get("domain") or r["id"], text))
                kept.append(r)
    return pages, _truth(kept), kept


def _truth(records: list[dict]) -> Truth:
    copies, apart = set(), set()
    groups: dict[str, list[dict]] = {}
    for r in records:
        if r.get("syndication_cluster"):
            groups.setdefault(r["syndication_cluster"], []).append(r)
    for members in groups.values():
        for a, b in itertools.combinations(members, 2):
            kinds = {a.get("syndication_type"), b.get("syndication_type")}
            pair = frozenset((a["id"], b["id"]))
            if kinds <= COPY_TYPES:
                copies.add(pair)
            elif kinds & NOT_BY_SHINGLES:
                apart.add(pair)
    return Truth(frozenset(copies), frozenset(apart))


def sweep(pages: list[Page], truth: Truth, quoted: frozenset[int]) -> None:
    """The after rules with other passage thresholds: how wide the margin is."""
    shipped = neardup.PASSAGE_SHINGLES
    print("\n  passage threshold (shingles): precision / recall")
    try:
        for n in (30, 40, 50, 60, 70, 80, 100, 10**9):
            neardup.PASSAGE_SHINGLES = n
            p, r, *_ = score(pages, truth, True, quoted)
            print(f"  {'none' if n == 10**9 else n:>6}{' (shipped)' if n == shipped else '':<11} {p:.3f} / {r:.3f}")
    finally:
        neardup.PASSAGE_SHINGLES = shipped


def reference_shingles(stories: Path) -> frozenset[int]:
    """Shingles of the reference articles of every story configured in ``stories``."""
    import tomllib

    found: set[int] = set()
    for story in sorted(stories.glob("*.toml")):
        folder = (stories.parent / tomllib.loads(story.read_text("utf-8"))["reference"]).resolve()  # config-relative
        for text in sorted(folder.glob("*.txt")):
            found |= fp.shingles(text.read_text("utf-8"))
    return frozenset(found)


def detail(pages: list[Page], truth: Truth, records: list[dict], quoted: frozenset[int]) -> None:
    """Each labelled pair with its scores (ids and types only, never text)."""
    kind = {r["id"]: r.get("syndication_type") for r in records}
    by_key = {p.key: p for p in pages}
    found = {frozenset((a, b)): (rel, j) for a, b, rel, j in links(pages, True, quoted)}
    print("\n  labelled pairs (after): ids, types, words, Jaccard / containment, link")
    for pair in sorted(truth.copies | truth.apart, key=sorted):
        a, b = sorted(pair)
        m = neardup.compare(by_key[a].text, by_key[b].text)
        words = f"{len(fp.words(by_key[a].text))}/{len(fp.words(by_key[b].text))}"
        rel = found.get(pair, ("-",))[0]
        print(f"  {a} {b} {kind[a]:>13}/{kind[b]:<13} {words:>9} J {m.jaccard:.3f} C {m.containment:.3f} {rel}")


# ------------------------------------------------------------------ generated fixtures

def fixture_pages() -> tuple[list[Page], Truth]:
    import bench_neardup as bn

    docs = bn.corpus()
    pages = [Page(f"{n:03d}", bn.KIND_OUTLET.get(d.kind, f"own{n}"), d.text) for n, d in enumerate(docs)]
    copies, apart = set(), set()
    for (i, a), (j, b) in itertools.combinations(enumerate(docs), 2):
        pair = frozenset((pages[i].key, pages[j].key))
        if a.family and a.family == b.family:
            copies.add(pair)
        elif bn._quotes(a, b) or bn._quotes(b, a):
            apart.add(pair)  # a roundup reproducing a whole short item: neither side
    return pages, Truth(frozenset(copies), frozenset(apart))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "eval" / "coverage-dev.json")
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/coverage"))
    args = parser.parse_args()
    print("# syndication pairs: precision / recall of clusters")
    if args.dev.exists() and args.cache.is_dir():
        pages, truth, records = real_pages(args.dev, args.cache)
        quoted = reference_shingles(ROOT / "config" / "stories")
        report("real dev pages (verbatim, near-verbatim, excerpt)", pages, truth, quoted)
        sweep(pages, truth, quoted)
        detail(pages, truth, records, quoted)
    else:
        print(f"\n(real dev pages skipped: no {args.dev} or no cache {args.cache})")
    report("generated fixtures (bench_neardup corpus)", *fixture_pages())


if __name__ == "__main__":
    main()
