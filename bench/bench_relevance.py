"""Relevance on real coverage: the scorer against the keyword rule, in one run.

Run: python bench/bench_relevance.py [--labelled DIR] [--no-counter] [--dev-only] [--ablate]

Reads the labelled folder that ``bench/coverage_cache.py labelled`` writes from the page
cache (default /work/cache/coverage/labelled; the real pages stay outside the repository)
and the repository's default story (config/stories/rsi-pause.toml, its seeds and its
counter-examples). Prints, for the scorer and for the keyword rule ("an anchor and any
topic phrase", the alert a person would type):

- precision / recall / F1 on the dev part and on the test part at the shipped thresholds;
- the relevant threshold that maximises F1 on the dev part, and the figures it gives on the
  test part (thresholds chosen on one part, reported on the other).

``--no-counter`` scores without the counter-examples, to show what they add.
``--dev-only`` prints the dev part only: use it while designing, so the test part is looked
at once, for the final figure. ``--ablate`` adds dev rows with each of the scorer's
counter-example mechanisms turned off (the passage reading, the shared-phrase discount), to
show what each adds.
Deterministic; no network.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config.stories import StoryDef, Thresholds, story_from_dict  # noqa: E402
from pipeline.story import evaluate as ev  # noqa: E402
from pipeline.story import scorer as st  # noqa: E402

STORY = ROOT / "config" / "stories" / "rsi-pause.toml"
LABELLED = Path("/work/cache/coverage/labelled")


def load_story(path: Path = STORY) -> StoryDef:
    return story_from_dict(tomllib.loads(path.read_text(encoding="utf-8")), str(path))


def reference(story: StoryDef, counters: bool) -> st.Reference:
    base = STORY.parent.parent  # paths in a story are relative to the config folder
    seeds = ev.reference_seeds((base / story.reference).resolve())
    negs = ev.counter_seeds(base, story) if counters else []
    return st.build_reference(story, seeds, counters=negs)


def prf(decisions: list[bool], gold: list[bool]) -> tuple[float, float, float]:
    tp = sum(d and g for d, g in zip(decisions, gold))
    fp = sum(d and not g for d, g in zip(decisions, gold))
    fn = sum(g and not d for d, g in zip(decisions, gold))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def decide(ref: st.Reference, articles: list[ev.LabelledArticle], cut: float | None) -> list[bool]:
    story = ref.story if cut is None else replace(
        ref.story, thresholds=Thresholds(cut, min(cut, ref.story.thresholds.borderline)))
    ref = replace(ref, story=story)
    return [st.score(ref, title=a.title, text=a.text, published=a.published).decision == "relevant"
            for a in articles]


def keyword(story: StoryDef, articles: list[ev.LabelledArticle]) -> list[bool]:
    return [st.keyword_baseline(story, title=a.title, text=a.text, published=a.published).decision
            == "relevant" for a in articles]


def best_cut(ref: st.Reference, dev: list[ev.LabelledArticle]) -> float:
    gold = [a.relevant for a in dev]
    cuts = [round(0.30 + 0.01 * i, 2) for i in range(56)]
    # Highest F1; ties go to the cut nearest the middle of the tied range (a stable choice).
    scored = [(prf(decide(ref, dev, c), gold)[2], c) for c in cuts]
    top = max(f for f, _ in scored)
    tied = [c for f, c in scored if f == top]
    return tied[len(tied) // 2]


def row(name: str, part: str, cut: str, decisions: list[bool], gold: list[bool]) -> str:
    p, r, f = prf(decisions, gold)
    return f"{name:<22} {part:<5} {cut:>7} {len(gold):>4} {p:>9.3f} {r:>7.3f} {f:>6.3f}"


def ablations(ref: st.Reference, dev: list[ev.LabelledArticle]) -> list[str]:
    """Dev rows with one counter-example mechanism off at a time, then both."""
    gold = [a.relevant for a in dev]
    no_shared = replace(ref, counter_phrases=())
    rows = []
    for label, variant, words in (("- passage reading", ref, 10 ** 9),
                                  ("- shared phrases", no_shared, st.PASSAGE_WORDS),
                                  ("- both", no_shared, 10 ** 9)):
        kept, st.PASSAGE_WORDS = st.PASSAGE_WORDS, words  # one passage = the whole article
        try:
            rows.append(row(label, "dev", f"{ref.story.thresholds.relevant:.2f}",
                            decide(variant, dev, None), gold))
        finally:
            st.PASSAGE_WORDS = kept
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="relevance on real coverage vs the keyword rule")
    ap.add_argument("--labelled", type=Path, default=LABELLED)
    ap.add_argument("--no-counter", action="store_true", help="score without counter-examples")
    ap.add_argument("--dev-only", action="store_true", help="print the dev part only")
    ap.add_argument("--ablate", action="store_true", help="dev rows with each mechanism off")
    args = ap.parse_args(argv)
    articles = ev.load_labelled(args.labelled)
    story = load_story()
    ref = reference(story, counters=not args.no_counter)
    parts = {p: [a for a in articles if a.split == p] for p in ("dev", "test")}
    if args.dev_only:
        del parts["test"]
    name = "scorer" + ("" if args.no_counter else f" (+{len(ref.counter_ids)} counter)")
    print(f"{'method':<22} {'part':<5} {'cut':>7} {'n':>4} {'precision':>9} {'recall':>7} {'F1':>6}")
    if args.ablate and not args.no_counter:
        print("\n".join(ablations(ref, parts["dev"])))
    for part, arts in parts.items():
        gold = [a.relevant for a in arts]
        print(row(name, part, f"{story.thresholds.relevant:.2f}", decide(ref, arts, None), gold))
        print(row("keyword rule", part, "-", keyword(story, arts), gold))
    cut = best_cut(ref, parts["dev"])
    if args.dev_only:
        print(f"\nrelevant threshold chosen on dev: {cut:.2f}")
        return 0
    test_gold = [a.relevant for a in parts["test"]]
    print(f"\nrelevant threshold chosen on dev: {cut:.2f}")
    print(row(name, "test", f"{cut:.2f}", decide(ref, parts["test"], cut), test_gold))
    all_gold = [a.relevant for a in articles]
    print(row(name, "all", f"{story.thresholds.relevant:.2f}", decide(ref, articles, None), all_gold))
    print(row("keyword rule", "all", "-", keyword(story, articles), all_gold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
