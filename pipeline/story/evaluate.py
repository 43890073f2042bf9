"""Measure the story scorer against a hand-labelled set (``newswatch eval``).

The labelled folder holds one .txt per article (first line the headline, then the body)
and ``labels.toml``:

    [[article]]
    file = "pos-wire-straight.txt"   # in the same folder
    story = "rsi-pause"              # the story id the label is about
    label = "relevant"               # relevant | not
    style = "straight-news"          # free text, for reading the mistakes
    split = "dev"                    # dev: may be looked at while designing | test: only measured
    published = 2026-06-04T18:20:00Z # optional; TOML datetime with offset, or a date

A "borderline" decision counts as not relevant: the figures are for what the digest shows.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path

from pipeline.config.references import read_reference_set
from pipeline.config.stories import StoryDef
from pipeline.errors import ConfigError
from pipeline.story.scorer import (
    Reference,
    Score,
    build_reference,
    keyword_baseline,
    score,
)

SPLITS = ("dev", "test", "all")
_KEYS = {"file", "story", "label", "style", "split", "published"}


@dataclass(frozen=True)
class LabelledArticle:
    file: str
    story: str
    relevant: bool
    style: str
    split: str
    published: datetime | None
    title: str
    text: str


@dataclass(frozen=True)
class EvalResult:
    story_id: str
    method: str  # "tfidf+terms" (the scorer) or "keyword" (the baseline)
    split: str
    tp: int
    fp: int
    fn: int
    tn: int
    borderline: int  # articles the method called borderline (counted as not relevant)
    mistakes: tuple[str, ...]  # "file (label -> decision)"

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(stories: Sequence[StoryDef], labelled_dir: Path, *, config_dir: Path,
             split: str = "test") -> list[EvalResult]:
    """Scorer and keyword baseline, per story, on one split of the labelled set.
    Each story's reference folder is read relative to ``config_dir``."""
    refs = [build_reference(s, reference_seeds(config_dir / s.reference),
                            counters=counter_seeds(config_dir, s)) for s in stories]
    return evaluate_references(refs, load_labelled(labelled_dir), split)


def evaluate_references(references: Sequence[Reference], articles: Sequence[LabelledArticle],
                        split: str) -> list[EvalResult]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    results = []
    for ref in references:
        mine = [a for a in articles if a.story == ref.story.id and split in ("all", a.split)]
        results.append(_tally(ref.story.id, "tfidf+terms", split, mine, [_score(ref, a) for a in mine]))
        results.append(_tally(ref.story.id, "keyword", split, mine, [_baseline(ref, a) for a in mine]))
    return results


def reference_seeds(folder: Path) -> list[tuple[str, str]]:
    """(seed id, headline + body) for every seed file of a reference folder."""
    return [(s.file, f"{s.headline}\n{s.text}" if s.headline else s.text)
            for s in read_reference_set(folder)]


def counter_seeds(config_dir: Path, story: StoryDef) -> list[tuple[str, str]]:
    """The story's counter-examples as (file, text); none when it names no folder."""
    return reference_seeds(config_dir / story.counter_reference) if story.counter_reference else []


def _score(ref: Reference, a: LabelledArticle) -> Score:
    return score(ref, title=a.title, text=a.text, published=a.published)


def _baseline(ref: Reference, a: LabelledArticle) -> Score:
    return keyword_baseline(ref.story, title=a.title, text=a.text, published=a.published)


def _tally(story_id: str, method: str, split: str, articles: Sequence[LabelledArticle],
           scores: Sequence[Score]) -> EvalResult:
    said = [s.decision == "relevant" for s in scores]
    gold = [a.relevant for a in articles]
    pairs = list(zip(said, gold))
    mistakes = tuple(f"{a.file} ({'relevant' if a.relevant else 'not'} -> {s.decision})"
                     for a, s, (p, g) in zip(articles, scores, pairs) if p != g)
    return EvalResult(story_id, method, split,
                      tp=pairs.count((True, True)), fp=pairs.count((True, False)),
                      fn=pairs.count((False, True)), tn=pairs.count((False, False)),
                      borderline=sum(s.decision == "borderline" for s in scores), mistakes=mistakes)


def format_eval(results: Sequence[EvalResult], *, show_mistakes: bool = False) -> str:
    """A plain-text table, one row per story and method."""
    head = f"{'story':<14} {'method':<12} {'split':<5} {'n':>3} {'tp':>3} {'fp':>3} {'fn':>3} " \
           f"{'tn':>3} {'brd':>3} {'precision':>9} {'recall':>6} {'F1':>5}"
    rows = [head, "-" * len(head)]
    for r in results:
        n = r.tp + r.fp + r.fn + r.tn
        rows.append(f"{r.story_id:<14} {r.method:<12} {r.split:<5} {n:>3} {r.tp:>3} {r.fp:>3} "
                    f"{r.fn:>3} {r.tn:>3} {r.borderline:>3} {r.precision:>9.2f} {r.recall:>6.2f} "
                    f"{r.f1:>5.2f}")
        if show_mistakes:
            rows += [f"    wrong: {m}" for m in r.mistakes]
    return "\n".join(rows)


def load_labelled(folder: Path) -> list[LabelledArticle]:
    """Read labels.toml and the article files it names; all problems reported at once."""
    path = folder / "labels.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read labels: {exc}"]) from exc
    problems: list[str] = []
    articles = [a for i, raw in enumerate(doc.get("article", []))
                if (a := _article(folder, i, raw, problems)) is not None]
    if problems:
        raise ConfigError(problems)
    return articles


def _article(folder: Path, i: int, raw: dict, problems: list[str]) -> LabelledArticle | None:
    where = f"{folder / 'labels.toml'}: article #{i + 1}"
    found = [f"{where}: unknown key {k!r}" for k in sorted(set(raw) - _KEYS)]
    found += [f"{where}: missing key {k!r}" for k in ("file", "story", "label", "split") if k not in raw]
    if raw.get("label") not in (None, "relevant", "not"):
        found.append(f"{where}: key 'label': expected \"relevant\" or \"not\", got {raw['label']!r}")
    if raw.get("split") not in (None, "dev", "test"):
        found.append(f"{where}: key 'split': expected \"dev\" or \"test\", got {raw['split']!r}")
    body = folder / str(raw.get("file", ""))
    if "file" in raw and not body.is_file():
        found.append(f"{where}: key 'file': no such file {body}")
    problems += found
    if found:
        return None
    title, _, text = body.read_text(encoding="utf-8").partition("\n")
    return LabelledArticle(raw["file"], raw["story"], raw["label"] == "relevant", raw.get("style", ""),
                           raw["split"], _utc(raw.get("published")), title.strip(), text.strip())


def _utc(value: object) -> datetime | None:
    """TOML gives a datetime (aware or local) or a date; local times are read as UTC."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=timezone.utc)
    return None
