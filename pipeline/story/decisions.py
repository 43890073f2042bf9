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
from pipeline.story import scorer as story_mod


@dataclass(frozen=True)
class StoryReference:
    reference: story_mod.Reference
    seed_files: frozenset[str]


def references(settings: Settings) -> dict[str, StoryReference]:
    """Each story's reference set, read from its folder, keyed by story id."""
    refs = {}
    for story in settings.stories:
        seeds = read_reference_set(reference_dir(settings, story))
        counter_dir = counter_reference_dir(settings, story)
        counters = read_reference_set(counter_dir) if counter_dir else []
        refs[story.id] = _reference(story, tuple((s.file, s.text) for s in seeds),
                                    tuple((s.file, s.text) for s in counters))
    return refs


@lru_cache(maxsize=16)
def _reference(story: StoryDef, seeds: tuple[tuple[str, str], ...],
               counters: tuple[tuple[str, str], ...] = ()) -> StoryReference:
    """Seed vectors and IDF, built once per story definition, seed and counter-example texts
    (the daemon scores every run against the same reference)."""
    ref = story_mod.build_reference(story, list(seeds), counters=list(counters))
    return StoryReference(ref, frozenset(f for f, _ in seeds))


def score_article(ref: StoryReference, row: dict[str, Any]) -> story_mod.Score:
    """The story's score of one article row; a story's own reference article is relevant."""
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
    for story_id, ref in references(settings).items():
        for rows in store.articles_to_score(story_id):
            batch = [_score_row(story_id, r["article_id"], score_article(ref, r), now) for r in rows]
            store.save_scores(batch)
            done += len(batch)
            if progress:
                progress(story_id, len(batch), len(rows))
    return done


def _score_row(story_id: str, article_id: str, s: story_mod.Score, now: datetime) -> tuple:
    terms = {"anchor": list(s.terms.anchor), "groups": {g: list(h) for g, h in s.terms.groups},
             "rule_met": s.terms.rule_met}
    return (story_id, article_id, s.value, s.decision, s.in_window, s.nearest_seed,
            s.nearest_similarity, s.lexical, json.dumps(terms), json.dumps(list(s.reasons)), s.method, now)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
