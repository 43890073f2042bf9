"""A person's judgments (``newswatch label``) as examples and as decisions.

A judged article keeps the person's decision wherever a score is stored; the scorer's own
value is kept beside it. Judged relevant articles join the story's seeds, judged not
relevant ones its counter-examples, in article order (deterministic). An article is never
its own example: its own score is computed with its judgment left out (leave-one-out), so
the scorer's value stored for it, and ``eval --judged``, stay honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pipeline.story import scorer as story_mod

LABELS = ("relevant", "not")


@dataclass(frozen=True)
class Judgment:
    article_id: str
    label: str  # relevant | not
    judged_at: datetime
    judged_by: str
    url: str
    title: str | None
    body: str
    published_at: datetime | None

    @property
    def example(self) -> tuple[str, str]:
        """(example id, text) as a seed or counter-example: the headline, then the body."""
        return f"judged {self.url}", f"{self.title}\n{self.body}" if self.title else self.body


def judgments(rows: Sequence[dict[str, Any]]) -> tuple[Judgment, ...]:
    """The store's latest-judgment rows as Judgments; an article without text is no example
    but its judgment still decides."""
    return tuple(Judgment(r["article_id"], r["label"], r["judged_at"], r["judged_by"], r["url"],
                          r.get("title"), r.get("body") or "", r.get("published_at")) for r in rows)


def examples(judged: Sequence[Judgment], leave_out: str | None = None
             ) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """(extra seeds, extra counter-examples) from the judgments, without ``leave_out``."""
    usable = [j for j in judged if j.article_id != leave_out and j.body.strip()]
    return (tuple(j.example for j in usable if j.label == "relevant"),
            tuple(j.example for j in usable if j.label == "not"))


def apply(judgment: Judgment, scored: story_mod.Score) -> story_mod.Score:
    """The person's decision, with the scorer's value and decision kept as evidence."""
    said = (f"judged {judgment.label} by {judgment.judged_by} at {judgment.judged_at:%Y-%m-%d %H:%M} UTC; "
            f"the scorer says {scored.decision} (score {scored.value:.2f})")
    return replace(scored, decision=judgment.label, reasons=(said,) + scored.reasons)
