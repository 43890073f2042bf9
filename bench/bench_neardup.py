"""Measure the near-duplicate machinery on the seed articles and copies made from them.

Run: /tmp/venv/bin/python bench/bench_neardup.py

Prints: the cost of one fingerprint (800-word text); Jaccard / containment / relation per
kind of copy; precision and recall of ``neardup.compare`` against all non-copy pairs
(other reports of the same story, sentence mixes of several reports, briefs sharing a
quote, off-topic texts) with a threshold sweep; LSH candidate recall per bands x rows.
No network. Deterministic (fixed random seeds).
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.content import fingerprint as fp  # noqa: E402
from pipeline.content import neardup  # noqa: E402

SEEDS = ROOT / "seeds"
DATA = ROOT / "tests" / "data" / "neardup"
OUTLETS = ("outlet_harbor", "outlet_quill", "outlet_meridian")
LSH_CONFIGS = ((16, 8), (32, 4), (64, 2))
# The outlet whose template each kind of copy is wrapped in (see ``variants``); every other
# text stands for a page of an outlet of its own.
KIND_OUTLET = {"boilerplate": OUTLETS[0], "boilerplate2": OUTLETS[2], "trim60+boiler": OUTLETS[1],
               "edited+boiler": OUTLETS[1], "brief+boiler": OUTLETS[2], "brief+boiler2": OUTLETS[0]}

# Words swapped when a sentence is "reworded"; the rest of the sentence loses every third
# word, which is how an editor's rewrite looks to 5-gram shingles (no 5-gram survives).
SYNONYMS = {
    "said": "stated", "company": "firm", "could": "might", "warned": "cautioned",
    "development": "progress", "systems": "tools", "significant": "major",
    "increasingly": "ever more", "future": "coming", "researchers": "scientists",
    "soon": "shortly", "argued": "contended", "models": "systems", "code": "software",
}
INSERTED = (
    "The company did not immediately respond to a request for further comment on the "
    "timing of any pause, and it gave no details about which rival laboratories it had "
    "already approached about the proposal."
)


@dataclass(frozen=True)
class Doc:
    family: str  # texts of one family are copies of one original; "" = none
    kind: str
    text: str
    parent: str = "original"  # the kind this one was copied from ("" for originals)
    quoted: frozenset[str] = frozenset()  # a roundup: the report sentences it reproduces


# ------------------------------------------------------------------ building the texts

def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def sentences(paragraph: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?\u201d\"])\s+", paragraph) if s]


def in_outlet(outlet: str, headline: str, body: list[str]) -> str:
    template = (DATA / f"{outlet}.txt").read_text(encoding="utf-8")
    return template.replace("{{HEADLINE}}", headline).replace("{{BODY}}", "\n".join(body))


def new_headline(paras: list[str]) -> str:
    return "Report: " + " ".join(paras[1].split()[:8])


def reword(sentence: str) -> str:
    out = [SYNONYMS.get(w, w) for i, w in enumerate(sentence.split()) if i % 3 != 2]
    return " ".join(out)


def edited(paras: list[str], every: int, rng: random.Random) -> list[str]:
    """Reword one sentence in ``every``; insert one new paragraph."""
    out = []
    for p in paras:
        out.append(" ".join(reword(s) if rng.randrange(every) == 0 else s for s in sentences(p)))
    out.insert(len(out) // 2, INSERTED)
    return out


def variants(family: str, text: str, rng: random.Random) -> list[Doc]:
    p = paragraphs(text)
    body = p[1:]
    cut = lambda f: p[: max(2, round(len(p) * f))]  # noqa: E731
    made = {
        "boilerplate": in_outlet(OUTLETS[0], new_headline(p), body),
        "boilerplate2": in_outlet(OUTLETS[2], new_headline(p), body),
        "trim60+boiler": in_outlet(OUTLETS[1], p[0], cut(0.6)[1:]),
        "trim40": "\n".join(cut(0.4)),
        "edited+boiler": in_outlet(OUTLETS[1], new_headline(p), edited(body, 5, rng)),
        "excerpt3": "\n".join(p[:3] + ["Read the full story on the publisher's site."]),
        "update": "\n".join([p[0], reword(p[1])] + p[2:] + [INSERTED, reword(INSERTED)]),
        "punct-case": text.upper().replace(",", " ,").replace("\u2019", "'"),
    }
    return [Doc(family, "original", text, "")] + [Doc(family, k, v) for k, v in made.items()]


def short_family(family: str, text: str) -> list[Doc]:
    """A brief (first ~80 words) and its copy under another outlet's boilerplate."""
    p, brief = paragraphs(text), []
    while sum(len(x.split()) for x in brief) < 80:
        brief.append(p[len(brief)])
    return [
        Doc(family, "brief", "\n".join(brief)),
        Doc(family, "brief+boiler", in_outlet(OUTLETS[2], "Briefly", brief), "brief"),
        Doc(family, "brief+boiler2", in_outlet(OUTLETS[0], "In brief", brief), "brief"),
    ]


def mixes(texts: list[str], count: int, rng: random.Random) -> list[Doc]:
    """Roundups: runs of 3-5 sentences from 3-4 different reports, about 400 words."""
    pools = [[s for p in paragraphs(t)[1:] for s in sentences(p)] for t in texts]
    out = []
    for n in range(count):
        chosen, picked = rng.sample(range(len(pools)), rng.choice((3, 4))), []
        while sum(len(s.split()) for s in picked) < 400:
            pool = pools[chosen[len(picked) % len(chosen)]]
            start = rng.randrange(max(1, len(pool) - 5))
            picked.extend(pool[start : start + rng.randint(3, 5)])
        out.append(Doc("", f"mix{n}", " ".join(picked), "", frozenset(picked)))
    return out


def corpus() -> list[Doc]:
    rng = random.Random(20260604)
    seeds = [f.read_text(encoding="utf-8") for f in sorted(SEEDS.glob("*.txt"))]
    docs: list[Doc] = []
    for i, text in enumerate(seeds):
        docs += variants(f"seed{i}", text, rng) + short_family(f"seed{i}", text)
    docs += [Doc("seed4", "hand-edited", (DATA / "edited_004.txt").read_text("utf-8"))]
    docs += [Doc("seed1", "hand-excerpt", (DATA / "excerpt_001.txt").read_text("utf-8"))]
    docs += mixes(seeds, 12, rng)
    for name in ("brief_a", "brief_b", "brief_c", "offtopic_council", "offtopic_harvest"):
        docs.append(Doc("", name, (DATA / f"{name}.txt").read_text("utf-8"), ""))
    return docs


# ------------------------------------------------------------------ measuring

@dataclass(frozen=True)
class Pair:
    a: Doc
    b: Doc
    positive: bool  # one is the original of the other
    same_family: bool  # copies of one original, maybe not of each other: neither side
    quoted: bool  # a roundup reproduces >= 80 % of the other's sentences: neither side
    match: neardup.Match
    match_ignoring: neardup.Match  # with shingles common to >= 3 families ignored
    match_template: neardup.Match  # with each side's learnt outlet template ignored (the pipeline)
    shorter_words: int
    shared: dict[tuple[int, int], bool]  # (bands, rows) -> share >= 1 band


def measure_pairs(docs: list[Doc]) -> list[Pair]:
    words = [fp.words(d.text) for d in docs]
    sh = [fp.shingles_of_words(w) for w in words]
    sigs = [fp.minhash_signature(s) for s in sh]
    keys = {c: [set(fp.band_keys(sig, c[0])) for sig in sigs] for c in LSH_CONFIGS}
    boiler = _boilerplate(docs, sh)
    template = _templates(docs, sh)
    pairs = []
    for i, j in itertools.combinations(range(len(docs)), 2):
        a, b = docs[i], docs[j]
        same = bool(a.family) and a.family == b.family
        positive = same and (a.kind == b.parent or b.kind == a.parent)
        args = (sh[i], sh[j], len(words[i]), len(words[j]), words[i] == words[j])
        m, mi = neardup.compare_shingles(*args), neardup.compare_shingles(*args, ignore=boiler)
        mt = neardup.compare_shingles(*args, ignore=template[i] | template[j])
        shared = {c: bool(keys[c][i] & keys[c][j]) for c in LSH_CONFIGS}
        quoted = _quotes(a, b) or _quotes(b, a)
        pairs.append(Pair(a, b, positive, same, quoted, m, mi, mt, min(len(words[i]), len(words[j])), shared))
    return pairs


def _boilerplate(docs: list[Doc], sh: list[set[int]]) -> frozenset[int]:
    """Shingles found in texts of 3+ different stories: outlet furniture, as a warehouse
    could learn it per outlet (roundups, which quote several stories, are not counted)."""
    families: dict[int, set[str]] = {}
    for doc, shingle_set in zip(docs, sh):
        for h in shingle_set if doc.family else ():
            families.setdefault(h, set()).add(doc.family)
    return frozenset(h for h, f in families.items() if len(f) >= 3)


def _templates(docs: list[Doc], sh: list[set[int]]) -> list[frozenset[int]]:
    """Each text's outlet template as the warehouse learns it (``neardup.template_shingles``
    over all texts of the outlet)."""
    by_outlet: dict[str, list[set[int]]] = {}
    for doc, shingle_set in zip(docs, sh):
        by_outlet.setdefault(KIND_OUTLET.get(doc.kind, ""), []).append(shingle_set)
    learnt = {o: neardup.template_shingles(t) for o, t in by_outlet.items() if o}
    return [learnt.get(KIND_OUTLET.get(doc.kind, ""), frozenset()) for doc in docs]


def _quotes(roundup: Doc, other: Doc) -> bool:
    """Ground truth from construction, not from shingles: the roundup was built from
    these very sentences."""
    own = [s for p in paragraphs(other.text) for s in sentences(p)]
    inside = sum(len(s.split()) for s in own if s in roundup.quoted)
    return bool(roundup.quoted) and inside >= 0.8 * sum(len(s.split()) for s in own)


def negatives(pairs: list[Pair]) -> list[Pair]:
    return [p for p in pairs if not p.same_family and not p.quoted]


def time_fingerprint() -> None:
    text = " ".join(" ".join(paragraphs(f.read_text("utf-8"))) for f in sorted(SEEDS.glob("*.txt")))
    text = " ".join(text.split()[:800])
    steps = {
        "normalized words": lambda: fp.words(text),
        "normalize + shingles": lambda: fp.shingles(text),
        "minhash (128 perm)": lambda: fp.minhash_signature(shingle_set),
        "fingerprint() total": lambda: fp.fingerprint(text),
    }
    shingle_set = fp.shingles(text)
    print(f"\n## Cost per 800-word text ({len(fp.words(text))} words, best of 5 x 200 runs)")
    for name, fn in steps.items():
        best = min(_timed(fn, 200) for _ in range(5))
        print(f"  {name:<26} {best * 1000:7.3f} ms")


def _timed(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def print_kinds(pairs: list[Pair]) -> None:
    print("\n## Copies against their original (per kind, over the 5 seeds)")
    print(f"  {'kind':<15} {'J min':>6} {'J med':>6} {'C min':>6} {'words':>6}  relations")
    by_kind: dict[str, list[Pair]] = {}
    for p in pairs:
        if p.positive:
            other = p.b if p.a.kind in ("original", "brief") else p.a
            by_kind.setdefault(other.kind, []).append(p)
    for kind, ps in by_kind.items():
        js, cs = [p.match.jaccard for p in ps], [p.match.containment for p in ps]
        rels = ",".join(sorted({p.match.relation for p in ps}))
        words = min(p.shorter_words for p in ps)
        print(f"  {kind:<15} {min(js):6.3f} {statistics.median(js):6.3f} {min(cs):6.3f} {words:6d}  {rels}")


def _same_outlet_briefs(p: Pair) -> bool:
    return p.a.kind == p.b.kind and p.a.kind.startswith("brief+")


def _reports(p: Pair) -> bool:
    both = p.a.family.startswith("seed") and p.b.family.startswith("seed")
    return both and not _same_outlet_briefs(p)


def print_negatives(pairs: list[Pair]) -> None:
    print("\n## Non-copy pairs: the highest scores seen")
    groups = {
        "other report, long": lambda p: _reports(p) and p.shorter_words >= neardup.LONG_TEXT_WORDS,
        "other report, short": lambda p: _reports(p) and p.shorter_words < neardup.LONG_TEXT_WORDS,
        "other brief, same outlet": _same_outlet_briefs,
        "mix vs report": lambda p: "mix" in p.a.kind + p.b.kind,
        "briefs sharing a quote": lambda p: p.a.kind.startswith("brief_") or p.b.kind.startswith("brief_"),
        "off-topic": lambda p: "offtopic" in p.a.kind + p.b.kind,
    }
    for name, pred in groups.items():
        ps = [p for p in negatives(pairs) if pred(p)]
        print(f"  {name:<24} pairs {len(ps):5d}  J max {max(p.match.jaccard for p in ps):.3f}"
              f"  C max {max(p.match.containment for p in ps):.3f}"
              f"  flagged {sum(p.match.duplicate for p in ps)}")


def print_precision_recall(pairs: list[Pair]) -> None:
    pos = [p for p in pairs if p.positive]
    neg = negatives(pairs)
    quoted = [p for p in pairs if p.quoted]
    print(f"\n## Short texts reproduced whole inside a roundup: {len(quoted)} pairs,"
          f" flagged {sum(p.match.duplicate for p in quoted)} (relations:"
          f" {','.join(sorted({p.match.relation for p in quoted}))})")
    print(f"\n## compare() as a copy detector: {len(pos)} copy pairs, {len(neg)} non-copy pairs")
    print(f"  {'rule':<34} {'precision':>9} {'recall':>7} {'FP':>4} {'FN':>4}")
    _pr_row("as shipped", pos, neg, lambda p: p.match.duplicate)
    _pr_row("as shipped, boilerplate ignored", pos, neg, lambda p: p.match_ignoring.duplicate)
    _pr_row("pipeline: outlet template learnt", pos, neg, lambda p: p.match_template.duplicate)
    for t in (0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6):
        _pr_row(f"Jaccard >= {t} only (no length rule)", pos, neg, lambda p, t=t: p.match.jaccard >= t)
    for t in (0.5, 0.6, 0.7, 0.8, 0.9):
        _pr_row(f"containment >= {t} only", pos, neg, lambda p, t=t: p.match.containment >= t and p.shorter_words >= 50)
    missed = [f"{p.a.family}:{p.a.kind}~{p.b.kind}" for p in pos if not p.match.duplicate]
    print("  missed by the shipped rule:", ", ".join(missed) or "none")


def _pr_row(name: str, pos: list[Pair], neg: list[Pair], flag) -> None:
    tp, fp_ = sum(map(flag, pos)), sum(map(flag, neg))
    precision = tp / (tp + fp_) if tp + fp_ else 1.0
    print(f"  {name:<34} {precision:9.3f} {tp / len(pos):7.3f} {fp_:4d} {len(pos) - tp:4d}")


def print_clusters(docs: list[Doc], pairs: list[Pair]) -> None:
    """Pairs put in one cluster (``neardup.cluster`` over the pipeline's links) against
    copies of one original (positive) and non-copies (negatives; a roundup reproducing a
    whole short item is neither, but two stories it chains together are a false pair)."""
    index = {id(d): n for n, d in enumerate(docs)}
    links = [(index[id(p.a)], index[id(p.b)], p.match_template.relation, p.match_template.jaccard)
             for p in pairs if p.match_template.duplicate]
    plain = neardup.cluster([(a, b) for a, b, *_ in links])
    weak = neardup.cluster(links)
    pos, neg = [p for p in pairs if p.same_family], negatives(pairs)
    print(f"\n## Clusters: {len(pos)} pairs of copies of one original, {len(neg)} non-copy pairs")
    print(f"  {'rule':<34} {'precision':>9} {'recall':>7} {'FP':>4} {'FN':>4}")
    for name, roots in (("every link joins", plain), ("excerpt links never bridge", weak)):
        together = lambda p, r=roots: r.get(index[id(p.a)], -1) == r.get(index[id(p.b)], -2)  # noqa: E731
        _pr_row(name, pos, neg, together)


def print_lsh(pairs: list[Pair]) -> None:
    pos = [p for p in pairs if p.positive]
    dup = [p for p in pos if p.match.duplicate]
    neg = negatives(pairs)
    print("\n## LSH candidates (share >= 1 band key)")
    print(f"  {'bands x rows':<13} {'copy pairs':>10} {'confirmed':>9} {'J>=0.3':>7} {'excerpts':>8} {'non-copy':>9}")
    for c in LSH_CONFIGS:
        share = lambda ps: sum(p.shared[c] for p in ps) / max(1, len(ps))  # noqa: E731
        jcopies = [p for p in dup if p.match.jaccard >= neardup.COPY_JACCARD]
        excerpts = [p for p in dup if p.match.relation == "excerpt"]
        print(f"  {c[0]:>3} x {c[1]:<7} {share(pos):10.3f} {share(dup):9.3f} {share(jcopies):7.3f}"
              f" {share(excerpts):8.3f} {share(neg):9.4f}")
    print("  theory 1-(1-s^r)^b at s = 0.3 / 0.5:",
          ", ".join(f"{b}x{r}: {1 - (1 - 0.3**r) ** b:.2f} / {1 - (1 - 0.5**r) ** b:.2f}" for b, r in LSH_CONFIGS))


def print_edit_sweep() -> None:
    text = (SEEDS / "001_ead8627910c8ff5e.txt").read_text("utf-8")
    body = paragraphs(text)
    print("\n## Jaccard against the original as more sentences are reworded (seed 001)")
    for share in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        rng = random.Random(7)
        copy = [" ".join(reword(s) if rng.random() < share else s for s in sentences(p)) for p in body]
        m = neardup.compare(text, "\n".join(copy))
        print(f"  {share:4.0%} reworded: J {m.jaccard:.3f}  C {m.containment:.3f}  -> {m.relation}")


def main() -> None:
    docs = corpus()
    print(f"# near-duplicate bench: {len(docs)} texts")
    time_fingerprint()
    pairs = measure_pairs(docs)
    print_kinds(pairs)
    print_negatives(pairs)
    print_precision_recall(pairs)
    print_clusters(docs, pairs)
    print_lsh(pairs)
    print_edit_sweep()


if __name__ == "__main__":
    main()
