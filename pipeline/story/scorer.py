"""Score an article against a story's definition and reference set, and explain the score.

A story is configuration (``pipeline.config.stories``); nothing
here knows any particular story. The score combines two pieces of evidence, chosen by
measurement on the dev half of ``tests/data/labelled`` (its README.md has the figures):

- lexical: TF-IDF cosine between the article and each reference article (seed); IDF comes
  from the seeds plus a small built-in background of general news (``story.background``),
  so words every news story uses weigh little and the story's own vocabulary weighs much;
- terms: at least one *anchor* term (who the story is about) must appear, together with
  phrases from at least ``min_topic_groups`` *topic* groups (what it is about).

Counter-examples (near misses) are weighed against the seeds: an article nearer one of
them than every seed loses lexical evidence, unless one of its passages is nearer the seeds
(a piece covering two stories); topic groups it matches only with phrases that
counter-example has too count less, by the same margin (the neighbour's words).

Pure: no I/O, no clock, deterministic.
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter
from functools import lru_cache
from itertools import repeat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from types import MappingProxyType

from pipeline.config.stories import StoryDef, TermRule
from pipeline.config.stories import norm_text as _norm
from pipeline.story.background import BACKGROUND

DECISIONS = ("relevant", "borderline", "not")


# ---------------------------------------------------------------- text

_STOP = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over own
same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom
why will with would you your yours yourself yourselves said says say one two new may might must
us like get got also than year years week weeks day days time told per cent percent mr ms
""".split())
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s")


@lru_cache(maxsize=1 << 16)  # a news vocabulary repeats: each word is stripped once
def _stem(word: str) -> str:
    """A deliberately crude suffix stripper: enough to join pause/paused/pausing and
    improve/improving/improvement, without a stemming dependency."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("y"):
        word = word[:-1] + "i"
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _tokens(norm: str) -> list[str]:
    """Stemmed content words of a text already through ``_norm``."""
    words = [w for w in norm.split() if w not in _STOP and len(w) > 1 and not w.isdigit()]
    return [_stem(w) for w in words]


def _features(text: str, norm: str | None = None) -> Counter[str]:
    """Stemmed words plus adjacent-word pairs (pairs carry phrases such as 'jack clark');
    ``norm``: ``_norm(text)`` when the caller has it."""
    toks = _tokens(_norm(text) if norm is None else norm)
    # Counting pairs into the word counts gives ``Counter(toks) + Counter(pairs)`` (all
    # counts positive, same key order) without building a third Counter.
    counts = Counter(toks)
    counts.update(f"{a}_{b}" for a, b in zip(toks, toks[1:]))
    return counts


# Passages: consecutive sentences gathered to at least this many words. Long enough for a
# TF-IDF reading, short enough that a piece covering two stories has a passage on each.
# Chosen on the dev part of the real coverage set (30 to 80 words give the same figures).
PASSAGE_WORDS = 60
_SENTENCE_BREAK = re.compile(r"\n+|(?<=[.!?])\s+")


def passages(text: str, words: int = PASSAGE_WORDS) -> list[str]:
    """The text as passages of at least ``words`` words; a short tail joins the last one."""
    found: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_BREAK.split(text):
        current += sentence.split()
        if len(current) >= words:
            found.append(" ".join(current))
            current = []
    if current and found:
        found[-1] += " " + " ".join(current)
    elif current:
        found.append(" ".join(current))
    return found


# ---------------------------------------------------------------- terms

@lru_cache(maxsize=None)  # a story's phrases are few: compiled once, not per article
def _pattern(phrase: str) -> re.Pattern[str]:
    """Each word of the phrase matches a whole word, or any word it begins when it ends in *."""
    parts = []
    for word in phrase.split():
        stem = _norm(word.rstrip("*"))
        parts.append(r"\s".join(map(re.escape, stem.split())) + (r"\w*" if word.endswith("*") else ""))
    return re.compile(r"(?<!\w)" + r"\s".join(parts) + r"(?!\w)")


@lru_cache(maxsize=None)
def _literals(phrase: str) -> tuple[str, ...]:
    """Words every match of ``_pattern(phrase)`` contains verbatim: a text lacking one of
    them cannot match, which a substring test tells far faster than the pattern's scan."""
    return tuple(w for word in phrase.split() for w in _norm(word.rstrip("*")).split())


@lru_cache(maxsize=None)
def _lead(phrase: str) -> str | None:
    """The literal text every match of ``_pattern(phrase)`` starts with, if any."""
    first = _norm(phrase.split()[0].rstrip("*")).split() if phrase.split() else []
    return first[0] if first else None


def _occurs(phrase: str, norm: str) -> bool:
    """``_pattern(phrase).search(norm)``, tried only where the phrase's first word occurs
    (a match anchored there still sees the text before it, for the pattern's look-behind)."""
    if not all(w in norm for w in _literals(phrase)):
        return False
    pattern, lead = _pattern(phrase), _lead(phrase)
    if lead is None:
        return pattern.search(norm) is not None
    at = norm.find(lead)
    while at >= 0:
        if pattern.match(norm, at):
            return True
        at = norm.find(lead, at + 1)
    return False


@dataclass(frozen=True)
class TermEvidence:
    anchor: tuple[str, ...]  # anchor phrases found
    groups: tuple[tuple[str, tuple[str, ...]], ...]  # topic groups with the phrases found
    rule_met: bool  # an anchor and at least min_topic_groups topic groups


def match_terms(rule: TermRule, text: str) -> TermEvidence:
    """Which of the rule's phrases occur in ``text``."""
    return _match_norm(rule, _norm(text))


def _match_norm(rule: TermRule, norm: str) -> TermEvidence:
    found = [p for p in rule.anchor if _occurs(p, norm)]
    groups = tuple((g, hits) for g, phrases in rule.topic if (hits := tuple(p for p in phrases if _occurs(p, norm))))
    return TermEvidence(tuple(found), groups, bool(found) and len(groups) >= rule.min_topic_groups)


# ---------------------------------------------------------------- the reference set

@dataclass(frozen=True)
class Reference:
    """A story's seeds as unit TF-IDF vectors, with the IDF they were weighed by."""

    story: StoryDef
    seed_ids: tuple[str, ...]
    vectors: tuple[Mapping[str, float], ...] = field(repr=False)
    idf: Mapping[str, float] = field(repr=False)
    unseen_idf: float  # weight of a feature neither the seeds nor the background contain
    scale: float  # typical similarity of one seed to its nearest other seed (see _scale)
    counter_ids: tuple[str, ...] = ()  # counter-examples: near misses that are not the story
    counter_vectors: tuple[Mapping[str, float], ...] = field(default=(), repr=False)
    counter_phrases: tuple[frozenset[str], ...] = ()  # topic phrases each counter-example has


def build_reference(story: StoryDef, seeds: Sequence[tuple[str, str]],
                    background: Sequence[str] = BACKGROUND,
                    counters: Sequence[tuple[str, str]] = ()) -> Reference:
    """``seeds`` and ``counters`` are (id, text). The background only feeds the IDF; the
    counter-examples feed it too, so the words a story shares with its neighbours weigh
    less than the words that set it apart."""
    if not seeds:
        raise ValueError(f"story {story.id!r}: the reference set is empty")
    seed_feats = [_features(text) for _, text in seeds]
    counter_feats = [_features(text) for _, text in counters]
    docs = seed_feats + counter_feats + [_features(text) for text in background]
    df = Counter(f for d in docs for f in d)
    n = len(docs)
    # Smoothed IDF (the scikit-learn form): never zero, never negative.
    idf = {f: math.log((1 + n) / (1 + c)) + 1 for f, c in df.items()}
    unseen = math.log(1 + n) + 1
    vectors = tuple(MappingProxyType(_vector(f, idf, unseen)) for f in seed_feats)
    negatives = tuple(MappingProxyType(_vector(f, idf, unseen)) for f in counter_feats)
    phrases = tuple(frozenset(h for _, hits in match_terms(story.terms, text).groups for h in hits)
                    for _, text in counters)
    return Reference(story, tuple(i for i, _ in seeds), vectors, MappingProxyType(idf), unseen,
                     _scale(vectors), tuple(i for i, _ in counters), negatives, phrases)


def _vector(feats: Counter[str], idf: Mapping[str, float], unseen: float) -> dict[str, float]:
    """Sublinear TF times IDF, L2-normalised (long articles do not win by length alone)."""
    tf = {c: 1 + math.log(c) for c in set(feats.values())}  # few distinct counts: each log once
    weight = idf.get
    raw = {f: tf[c] * weight(f, unseen) for f, c in feats.items()}
    values = list(raw.values())
    # the same products and quotients, in the same order, as generator expressions, in C
    norm = math.sqrt(sum(map(operator.mul, values, values))) or 1.0
    return dict(zip(raw, map(operator.truediv, values, repeat(norm))))


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    # The same products summed in the same order as a generator would, but in C.
    return sum(map(operator.mul, small.values(), map(large.get, small.keys(), repeat(0.0))))


# A lone seed has no neighbour to measure against; 0.2 is near what the five seeds of the
# default story give (0.21), so a one-seed story starts from a sensible reading.
_SINGLE_SEED_SCALE = 0.2


def _scale(vectors: Sequence[Mapping[str, float]]) -> float:
    """Median, over seeds, of the similarity to the nearest *other* seed: how close two
    articles about this story typically are. Lexical similarity is read relative to it, so
    thresholds mean the same for a story with verbose seeds and one with terse seeds."""
    if len(vectors) < 2:
        return _SINGLE_SEED_SCALE
    nearest = sorted(max(_cosine(v, w) for j, w in enumerate(vectors) if j != i)
                     for i, v in enumerate(vectors))
    mid = len(nearest) // 2
    return nearest[mid] if len(nearest) % 2 else (nearest[mid - 1] + nearest[mid]) / 2



# ---------------------------------------------------------------- scoring

# Chosen on the dev split (figures in tests/data/labelled/README.md): lexical and term
# evidence weigh equally, and two distinct topic groups are full term evidence.
LEXICAL_WEIGHT = 0.5
GROUP_SATURATION = 2
# How much being nearer a counter-example than every seed costs: the margin (in units of
# the reference's seed-to-seed scale) times this weight is taken off the score. Chosen on
# the dev part of the real coverage set (bench/bench_relevance.py).
COUNTER_WEIGHT = 1.0


@dataclass(frozen=True)
class Score:
    story_id: str
    method: str  # "tfidf+terms" or "keyword"
    value: float  # 0..1, kept even when the window rules the article out
    decision: str  # one of DECISIONS
    in_window: bool | None  # None: the article has no date
    reasons: tuple[str, ...]
    terms: TermEvidence
    nearest_seed: str | None
    nearest_similarity: float  # raw TF-IDF cosine to the nearest seed
    lexical: float  # nearest_similarity relative to the reference's scale, capped at 1
    nearest_counter: str | None = None  # the nearest counter-example, when the story has any
    counter_similarity: float = 0.0  # raw TF-IDF cosine to it


def score(reference: Reference, *, title: str | None, text: str,
          published: datetime | None) -> Score:
    """Score one article against a story's reference set."""
    story = reference.story
    full = f"{title}\n{text}" if title else text
    norm = _norm(full)
    vec = _vector(_features(full, norm), reference.idf, reference.unseen_idf)
    sims = [_cosine(vec, seed) for seed in reference.vectors]
    best = max(range(len(sims)), key=lambda i: (sims[i], -i))
    lexical = _relative(reference, sims[best])
    terms = _match_norm(story.terms, norm)
    near, counter_sim = _nearest_counter(reference, vec)
    weighed = _weigh_counter(reference, full, near, (sims[best], counter_sim), lexical, terms)
    value = round(LEXICAL_WEIGHT * weighed.lexical + (1 - LEXICAL_WEIGHT) * weighed.terms, 4)
    decision, reasons = _decide(story, value, terms, published)
    return Score(story.id, "tfidf+terms", value, decision, in_window(story, published),
                 reasons + weighed.reasons, terms, reference.seed_ids[best], round(sims[best], 4),
                 round(lexical, 4), None if near is None else reference.counter_ids[near],
                 round(counter_sim, 4))


def _relative(reference: Reference, similarity: float) -> float:
    """A cosine read against the seed-to-seed scale, capped at 1."""
    return min(1.0, similarity / reference.scale) if reference.scale > 0 else 0.0


@dataclass(frozen=True)
class _Weighed:
    lexical: float  # lexical evidence after the counter-examples
    terms: float  # term evidence after the counter-examples
    reasons: tuple[str, ...]


def _weigh_counter(reference: Reference, full: str, near: int | None, sims: tuple[float, float],
                   lexical: float, terms: TermEvidence) -> _Weighed:
    """Nearness to the nearest counter-example weighed against nearness to the seeds
    (``sims``: to the nearest seed, to that counter-example); nothing changes unless the
    counter-example is the nearer.

    The margin is taken from the lexical evidence, not from the terms: an article about a
    neighbour *and* the story still carries the story's terms. A piece covering two stories
    is also read passage by passage: when one passage is nearer the seeds than any
    counter-example it keeps up to its own lexical evidence. And topic groups found only in
    phrases the counter-example has too count less, by the same margin: they are the
    neighbour's words as much as the story's."""
    penalty = _counter_penalty(reference, *sims)
    if near is None or penalty <= 0:
        return _Weighed(lexical, _term_strength(terms), ())
    shared = reference.counter_phrases[near] if reference.counter_phrases else frozenset()
    passage = max(_passage_contrast(reference, p) for p in passages(full, PASSAGE_WORDS))
    reasons = (f"nearer the counter-example {reference.counter_ids[near]} ({sims[1]:.3f}) than any seed",)
    whole = max(0.0, lexical - penalty)
    kept = max(whole, min(lexical, passage))
    return _Weighed(kept, _term_strength(terms, shared, penalty),
                    reasons + _counter_reasons(terms, shared, penalty, kept > whole))


def _passage_contrast(reference: Reference, text: str) -> float:
    vec = _vector(_features(text), reference.idf, reference.unseen_idf)
    seed_sim = max(_cosine(vec, seed) for seed in reference.vectors)
    counter_sim = max(_cosine(vec, c) for c in reference.counter_vectors)
    return max(0.0, _relative(reference, seed_sim) - _counter_penalty(reference, seed_sim, counter_sim))


def _nearest_counter(reference: Reference, vec: Mapping[str, float]) -> tuple[int | None, float]:
    if not reference.counter_vectors:
        return None, 0.0
    sims = [_cosine(vec, c) for c in reference.counter_vectors]
    best = max(range(len(sims)), key=lambda i: (sims[i], -i))
    return best, sims[best]


def _counter_penalty(reference: Reference, seed_sim: float, counter_sim: float) -> float:
    """Nearness to a near miss weighed against nearness to the story: only a counter-example
    that is closer than every seed costs anything."""
    if reference.scale <= 0 or counter_sim <= seed_sim:
        return 0.0
    return COUNTER_WEIGHT * min(1.0, (counter_sim - seed_sim) / reference.scale)


def _counter_reasons(terms: TermEvidence, shared: frozenset[str], penalty: float,
                     passage_helped: bool) -> tuple[str, ...]:
    weak = sorted(_shared_only(terms, shared))
    found = [f"topic group(s) {', '.join(weak)} found only in phrases that counter-example has "
             f"too: counted {1 - penalty:.2f}"] if weak else []
    if passage_helped:
        found.append("one passage is nearer the seeds than any counter-example: it keeps lexical evidence")
    return tuple(found)


def _term_strength(terms: TermEvidence, shared: frozenset[str] = frozenset(),
                   discount: float = 0.0) -> float:
    """No anchor, no term evidence: topic words alone may be about anyone. A group whose
    phrases are all in ``shared`` (the nearest counter-example has them too) counts only
    ``1 - discount``: the neighbour's words are evidence for the story only as far as the
    article is not nearer the neighbour."""
    if not terms.anchor:
        return 0.0
    weak = _shared_only(terms, shared)
    groups = sum(1.0 - discount if g in weak else 1.0 for g, _ in terms.groups)
    return min(1.0, groups / GROUP_SATURATION)


def _shared_only(terms: TermEvidence, shared: frozenset[str]) -> set[str]:
    """Topic groups matched only by phrases in ``shared`` (the nearest counter-example's)."""
    return {g for g, hits in terms.groups if not set(hits) - shared}


def _decide(story: StoryDef, value: float, terms: TermEvidence,
            published: datetime | None) -> tuple[str, tuple[str, ...]]:
    cut = story.thresholds
    decision = "relevant" if value >= cut.relevant else "borderline" if value >= cut.borderline else "not"
    reasons = [f"score {value:.2f} ({'>=' if value >= cut.relevant else '<'} relevant {cut.relevant:.2f})"]
    if decision == "relevant" and not terms.rule_met:
        decision = "borderline"
        reasons.append("term rule not met (needs an anchor and "
                       f"{story.terms.min_topic_groups} topic group(s))")
    if in_window(story, published) is False:
        decision = "not"
        reasons.append("outside window")
    return decision, tuple(reasons)


def in_window(story: StoryDef, published: datetime | None) -> bool | None:
    """Whether the (UTC) publication date lies in the story window; None when undated."""
    if published is None:
        return None
    # Windows are UTC dates; a naive datetime is taken to be UTC already (models.py).
    day = (published.astimezone(timezone.utc) if published.tzinfo else published).date()
    return story.window_start <= day and (story.window_end is None or day <= story.window_end)


def keyword_baseline(story: StoryDef, *, title: str | None, text: str,
                     published: datetime | None) -> Score:
    """The rule a person would type into a news alert: any anchor phrase and any topic
    phrase. Used only to measure what the scorer adds; the window applies to both."""
    full = f"{title}\n{text}" if title else text
    terms = match_terms(replace(story.terms, min_topic_groups=1), full)
    hit = bool(terms.anchor and terms.groups)
    decision, reasons = ("relevant", ("keywords found",)) if hit else ("not", ("keywords missing",))
    if in_window(story, published) is False:
        decision, reasons = "not", reasons + ("outside window",)
    return Score(story.id, "keyword", 1.0 if hit else 0.0, decision, in_window(story, published),
                 reasons, terms, None, 0.0, 0.0)


def explain(s: Score) -> str:
    """A few lines saying why an article got its decision (``newswatch explain``)."""
    when = {True: "inside the window", False: "OUTSIDE the window", None: "undated"}[s.in_window]
    lines = [f"story {s.story_id}: {s.decision.upper()} (score {s.value:.2f}, {s.method}; {when})"]
    lines += [f"  why: {r}" for r in s.reasons]
    lines.append(f"  anchor terms: {', '.join(s.terms.anchor) or '(none found)'}")
    lines += [f"  topic {g}: {', '.join(hits)}" for g, hits in s.terms.groups] or ["  topic terms: (none found)"]
    if s.nearest_seed is not None:
        lines.append(f"  nearest seed: {s.nearest_seed} (cosine {s.nearest_similarity:.3f}, "
                     f"{s.lexical:.2f} of a typical seed-to-seed similarity)")
    if s.nearest_counter is not None:
        lines.append(f"  nearest counter-example: {s.nearest_counter} (cosine {s.counter_similarity:.3f})")
    return "\n".join(lines)
