"""Score the warehouse's articles against every configured story (resumable: only
articles without a score for a story are scored; ``rescore`` clears them first)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any, Callable

from pipeline.config import Settings, counter_reference_dir, reference_dir
from pipeline.config.references import read_reference_set
from pipeline.config.stories import StoryDef
from pipeline.store import Store
from pipeline.story import judged as judged_mod
from pipeline.story.evaluate import EvalResult, LabelledArticle, tally
from pipeline.story import scorer as story_mod


@dataclass(frozen=True)
class StoryReference:
    reference: story_mod.Reference
    seed_files: frozenset[str]
    seeds: tuple[tuple[str, str], ...] = ()  # the configured seeds (id, text)
    counters: tuple[tuple[str, str], ...] = ()  # the configured counter-examples
    judged: tuple[judged_mod.Judgment, ...] = ()  # latest judgment per judged article

    def judgment(self, article_id: str) -> judged_mod.Judgment | None:
        return next((j for j in self.judged if j.article_id == article_id), None)

    def without(self, article_id: str) -> StoryReference:
        """This reference with the article's own judgment left out of the examples."""
        seeds, counters = judged_mod.examples(self.judged, leave_out=article_id)
        return _reference(self.reference.story, self.seeds, self.counters, seeds, counters, self.judged)


def references(settings: Settings, store: Store | None = None) -> dict[str, StoryReference]:
    """Each story's reference set, read from its folder, keyed by story id; with ``store``,
    the articles people judged join the seeds (relevant) or counter-examples (not)."""
    refs = {}
    for story in settings.stories:
        seeds = read_reference_set(reference_dir(settings, story))
        counter_dir = counter_reference_dir(settings, story)
        counters = read_reference_set(counter_dir) if counter_dir else []
        judged = judged_mod.judgments(store.judged(story.id)) if store is not None else ()
        extra_seeds, extra_counters = judged_mod.examples(judged)
        refs[story.id] = _reference(story, tuple((s.file, s.text) for s in seeds),
                                    tuple((s.file, s.text) for s in counters), extra_seeds, extra_counters, judged)
    return refs


@lru_cache(maxsize=16)
def _reference(story: StoryDef, seeds: tuple[tuple[str, str], ...],
               counters: tuple[tuple[str, str], ...] = (), extra_seeds: tuple[tuple[str, str], ...] = (),
               extra_counters: tuple[tuple[str, str], ...] = (),
               judged: tuple[judged_mod.Judgment, ...] = ()) -> StoryReference:
    """Seed vectors and IDF, built once per story definition, seed and counter-example texts
    and judgments (the daemon scores every run against the same reference)."""
    ref = story_mod.build_reference(story, list(seeds + extra_seeds), counters=list(counters + extra_counters))
    return StoryReference(ref, frozenset(f for f, _ in seeds), seeds, counters, judged)


def score_article(ref: StoryReference, row: dict[str, Any]) -> story_mod.Score:
    """The story's score of one article row: a person's judgment decides (the scorer's
    value, computed without the article's own judgment, is kept beside it)."""
    judgment = ref.judgment(row["article_id"]) if row.get("article_id") else None
    if judgment is None:
        return _scored(ref, row)
    return judged_mod.apply(judgment, _scored(ref.without(judgment.article_id), row))


def _scored(ref: StoryReference, row: dict[str, Any]) -> story_mod.Score:
    """The scorer's score of one article row; a story's own reference article is relevant."""
    published = _utc(row.get("published_at"))
    scored = story_mod.score(ref.reference, title=row.get("title"), text=row.get("body") or "",
                             published=published)
    if row.get("is_reference") and row.get("reference_file") in ref.seed_files:
        return _as_reference(scored)
    return scored


def _as_reference(scored: story_mod.Score) -> story_mod.Score:
    from dataclasses import replace

    return replace(scored, decision="relevant", reasons=("reference article of the story",) + scored.reasons)


def score_pending(store: Store, settings: Settings, now: datetime,
                  progress: Callable[[str, int, int], None] | None = None) -> int:
    """Score every article that has no score yet for a story; returns how many were scored."""
    done = 0
    for story_id, ref in references(settings, store).items():
        for rows in store.articles_to_score(story_id):
            batch = [_score_row(story_id, r["article_id"], score_article(ref, r), now) for r in rows]
            store.save_scores(batch)
            done += len(batch)
            if progress:
                progress(story_id, len(batch), len(rows))
    return done


def evaluate_judged(ref: StoryReference) -> list[EvalResult]:
    """The scorer (its own value, each article scored with its own judgment left out of
    the examples) and the keyword rule, against every judgment so far."""
    story = ref.reference.story
    articles = [LabelledArticle(j.url, story.id, j.label == "relevant", f"judged by {j.judged_by}", "judged",
                                _utc(j.published_at), j.title or "", j.body) for j in ref.judged]
    scorer = [_scored(ref.without(j.article_id), _row(j)) for a, j in zip(articles, ref.judged)]
    keyword = [story_mod.keyword_baseline(story, title=a.title, text=a.text, published=a.published)
               for a in articles]
    return [tally(story.id, "tfidf+terms", "judged", articles, scorer),
            tally(story.id, "keyword", "judged", articles, keyword)]


def _row(j: judged_mod.Judgment) -> dict[str, Any]:
    return {"article_id": j.article_id, "title": j.title, "body": j.body, "published_at": j.published_at}


def _score_row(story_id: str, article_id: str, s: story_mod.Score, now: datetime) -> tuple:
    terms = {"anchor": list(s.terms.anchor), "groups": {g: list(h) for g, h in s.terms.groups},
             "rule_met": s.terms.rule_met}
    return (story_id, article_id, s.value, s.decision, s.in_window, s.nearest_seed,
            s.nearest_similarity, s.lexical, json.dumps(terms), json.dumps(list(s.reasons)), s.method, now)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
