"""Is one article a copy of another, and which copies belong together.

Pure. The warehouse finds *candidates* (texts sharing an LSH band key, see
``fingerprint.band_keys``); this module confirms them on the exact word-shingle sets and
groups confirmed pairs into clusters. Which member of a cluster came first is decided by
dates (``origin``), never by the cluster root, which is only a stable name.

Thresholds were measured with ``bench/bench_neardup.py`` (seed articles, their
re-boilerplated / trimmed / edited / excerpted copies, sentence mixes of several seeds,
short items sharing a quote or an outlet template, off-topic texts); the figures are in
each constant's docstring.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np

from pipeline.content import fingerprint as fp

# Texts whose shorter side has at least this many words are "long" (ARCHITECTURE.md:
# J >= 0.3 gave precision 0.996 / recall 0.946 on real news of 150+ words).
LONG_TEXT_WORDS = 150

COPY_JACCARD = 0.3
"""Jaccard over word 5-gram shingles from which two long texts are copies.

Boilerplate of another outlet, a new headline, a trimmed tail or a few reworded
sentences leave most 5-grams intact, while two different reports of one event share only
quotes and names. Measured (bench, 5 seed reports): different reports of the story peak
at J 0.125, roundups built from runs of 3-4 reports at 0.278; copies start at 0.448
(trimmed to 60 % under other boilerplate), 0.501 (edited under other boilerplate); with
sentences reworded at random, J is 0.336 at 40 % reworded and 0.285 at 50 %. 0.3 also
matches the real-news figures of ARCHITECTURE.md (precision 0.996, recall 0.946).
"""

COPY_JACCARD_SHORT = 0.5
"""Stricter Jaccard for texts under ``LONG_TEXT_WORDS`` words.

In a brief, one shared quote or one outlet's furniture is a large share of the text.
Measured (bench): short different items sharing a quote reach J 0.135, sharing a
65-word outlet template 0.247 (both would be one quote or template away from 0.3);
an 82-word brief under another outlet's template scores 0.438-0.579 and, when below
0.5, is still caught by the excerpt rule (containment 1.0).
"""

EXCERPT_CONTAINMENT = 0.8
"""Share of the shorter text's shingles found in the longer one for an excerpt.

An excerpt (the first paragraphs plus "read more") or a heavily trimmed copy has a low
Jaccard against the full text but nearly all of it lies inside. Measured (bench):
excerpts of 3 paragraphs >= 0.846, a hand-made excerpt 0.915, trims 1.0; different
reports <= 0.494, roundups against one of their sources <= 0.726.
"""

EXCERPT_MIN_WORDS = 50
"""An excerpt needs this many words: below it a single shared quote or a standard
sentence ("The company did not respond to a request for comment") is contained too."""

EXCERPT_MAX_SHARE = 2 / 3
"""A text inside another (containment >= ``EXCERPT_CONTAINMENT``) that is at most this
share of the other's length is an *excerpt*, a weak link (see ``cluster``), even when its
Jaccard passes the copy threshold. A roundup of two briefs is about twice as long as
each: one brief reaches J 0.5 with it (the short-text copy threshold), and as a copy it
would chain the roundup's other brief into its cluster. Copies under other boilerplate,
updated or lightly edited keep 80-100 % of the length (bench) and stay copies."""

# Two different short items (about 80 words) inside the same heavy outlet template (about
# 100 words) reach J 0.355 and pass the long-text rule; ``compare_shingles(..., ignore=...)``
# with the outlet's template shingles (``template_shingles``) removes that (bench:
# precision 0.934 -> 0.983, recall unchanged at 1.0).
# A roundup that reproduces a whole short item is, correctly, its "excerpt"; ``cluster``
# therefore never lets containment links join two clusters through one text.

PASSAGE_SHINGLES = 60
"""Shingles two pages of *different outlets* must share, once templates and the story's
reference text are left out, to carry one passage (about 64 words: longer than the
quotes two reports take from one statement). Pages that show only part of a syndicated
text (a teaser, a window of it) overlap by a passage without either containing the
other. Measured on the real dev pages (``bench/bench_copies.py``): copies of one text
share 67-303, different reports at most 37 (34 once the words they both quote from the
story's own post are set aside, 67 before). Within one outlet a shared passage is the
outlet's own background paragraph, not a copy, so it is not used there."""

RELATIONS = ("exact", "copy", "excerpt", "passage", "distinct")

WEAK_RELATIONS = frozenset({"excerpt", "passage"})
"""Links that say "this text lies inside that one" rather than "these are one text": a
roundup or a quote-heavy page lies around several stories at once, so these links attach
a text to one cluster but never bridge two (see ``cluster``)."""

TEMPLATE_MIN_TEXTS = 3
"""A shingle is outlet template when it recurs in this many of the outlet's distinct texts
(one recurrence more than "a copy and its original")..."""

TEMPLATE_SHARE = 0.5
"""...and in at least this share of them: furniture is on (nearly) every page, while a
quote or a name an outlet keeps reusing is on a few."""

TEMPLATE_SAMPLE = 60
"""The outlet's most recent texts the template is learnt from: cost stays flat as the
warehouse grows, and a redesigned template is learnt anew."""


@dataclass(frozen=True)
class Match:
    """How two texts relate: ``relation`` is one of ``RELATIONS``."""

    jaccard: float
    containment: float
    relation: str

    @property
    def duplicate(self) -> bool:
        """True for every relation that makes the two texts one cluster."""
        return self.relation != "distinct"


def compare(text_a: str, text_b: str) -> Match:
    """Compare two extracted article texts (see the module constants for the rules)."""
    words_a, words_b = fp.words(text_a), fp.words(text_b)
    return compare_shingles(
        fp.shingles_of_words(words_a),
        fp.shingles_of_words(words_b),
        len(words_a),
        len(words_b),
        exact=bool(words_a) and words_a == words_b,
    )


def compare_shingles(
    a: set[int],
    b: set[int],
    words_a: int,
    words_b: int,
    exact: bool = False,
    ignore: frozenset[int] = frozenset(),
    passage: bool = False,
) -> Match:
    """``compare`` on precomputed shingle sets and word counts; ``exact`` when the content
    hashes are equal (callers holding fingerprints pass that instead of the texts).

    ``ignore``: shingles known to be boilerplate (e.g. seen in many texts of one outlet),
    left out of both sets. Without it, two different short items wrapped in the same
    heavy outlet boilerplate can pass the copy rule (bench: "other brief, same outlet").
    ``passage``: whether a shared passage (``PASSAGE_SHINGLES``) links the two, i.e. they
    come from different outlets.
    """
    if ignore:
        # every ignored shingle stands for about one word of template, not of the article
        kept_a, kept_b = a - ignore, b - ignore
        words_a, words_b = words_a - (len(a) - len(kept_a)), words_b - (len(b) - len(kept_b))
        a, b = kept_a, kept_b
    return match_counts(len(a & b), len(a), len(b), words_a, words_b, exact, passage)


def match_counts(shared: int, size_a: int, size_b: int, words_a: int, words_b: int, exact: bool = False,
                 passage: bool = False) -> Match:
    """``compare_shingles`` from the counts alone: ``shared`` shingles in common between
    sets of ``size_a`` and ``size_b`` (what is ignored already left out of all three, and
    of the word counts). Jaccard is 0.0 when both sets are empty, containment when
    either is (``fp.jaccard``, ``fp.containment``)."""
    j = shared / (size_a + size_b - shared) if size_a or size_b else 0.0
    c = shared / min(size_a, size_b) if size_a and size_b else 0.0
    relation = _relation(j, c, min(words_a, words_b), max(words_a, words_b), exact)
    if relation == "distinct" and passage and shared >= PASSAGE_SHINGLES:
        relation = "passage"
    return Match(j, c, relation)


def _relation(j: float, c: float, shorter_words: int, longer_words: int, exact: bool) -> str:
    if exact:
        return "exact"
    inside = c >= EXCERPT_CONTAINMENT and shorter_words >= EXCERPT_MIN_WORDS
    if j >= copy_threshold(shorter_words) and not (inside and shorter_words <= EXCERPT_MAX_SHARE * longer_words):
        return "copy"
    return "excerpt" if inside else "distinct"


def copy_threshold(shorter_words: int) -> float:
    """The Jaccard threshold for a pair whose shorter text has ``shorter_words`` words."""
    return COPY_JACCARD if shorter_words >= LONG_TEXT_WORDS else COPY_JACCARD_SHORT


def template_shingles(texts: Sequence[set[int]]) -> frozenset[int]:
    """Shingles one outlet repeats on its pages: in at least ``TEMPLATE_MIN_TEXTS`` and
    ``TEMPLATE_SHARE`` of its *distinct* texts (``texts``: one outlet's shingle sets).

    A text that lies inside one counted already (containment >= ``EXCERPT_CONTAINMENT``:
    a copy, an update, an excerpt) is not counted again, so an outlet whose pages carry
    one story does not learn that story as its template, which would then hide the
    story's real copies elsewhere. Known limit: pages whose template outweighs their
    own text four to one count as one text, and no template is learnt from them.
    """
    return template_of_arrays([np.array(sorted(t), dtype=np.uint64) for t in texts])


def template_of_arrays(texts: Sequence[np.ndarray]) -> frozenset[int]:
    """``template_shingles`` on sorted arrays of distinct uint64 (``overlap.Shingled``):
    the shingles of all texts become small ids, and each set operation a boolean mask
    over them (issue 12: 13 ms an outlet of 60 800-word pages with Python sets)."""
    sizes = [t.size for t in texts]
    values, ids = np.unique(np.concatenate([*texts, np.zeros(0, np.uint64)]), return_inverse=True)
    rows = np.split(ids, np.cumsum(sizes)[:-1].astype(np.int64)) if texts else []
    seen, mark = np.zeros(values.size, dtype=bool), np.zeros(values.size, dtype=bool)
    distinct: list[np.ndarray] = []
    for i in sorted(range(len(rows)), key=lambda i: sizes[i], reverse=True):  # stable, as sorted(texts)
        row = rows[i]
        # A text shares with one distinct text at most what it shares with all of them:
        # when that is below the bar, no pair needs testing (most pages of an outlet).
        if not (row.size and np.count_nonzero(seen[row]) / row.size < EXCERPT_CONTAINMENT) \
                and _inside_any(row, distinct, mark):
            continue
        distinct.append(row)
        seen[row] = True
    counts = np.bincount(np.concatenate([*distinct, np.zeros(0, np.intp)]), minlength=values.size)
    floor = max(TEMPLATE_MIN_TEXTS, TEMPLATE_SHARE * len(distinct))
    return frozenset(values[counts >= floor].tolist())


def _inside_any(row: np.ndarray, distinct: list[np.ndarray], mark: np.ndarray) -> bool:
    """Whether ``fp.containment`` of the text (ids ``row``) and one of ``distinct`` is at
    least ``EXCERPT_CONTAINMENT`` (``mark``: a scratch mask, left all False)."""
    if not row.size:
        return False
    mark[row] = True
    try:
        return any(other.size and np.count_nonzero(mark[other]) / min(row.size, other.size) >= EXCERPT_CONTAINMENT
                   for other in distinct)
    finally:
        mark[row] = False


K = TypeVar("K", bound=Hashable)


def cluster(links: Iterable[tuple], first: Mapping[K, datetime] | None = None,
            words: Mapping[K, int] | None = None) -> dict[K, K]:
    """Union-find over confirmed links: every id -> its cluster root. A link is (a, b),
    (a, b, relation) or (a, b, relation, jaccard); a bare pair is a strong link.

    Strong links (copies, exact, canonical, title) join at once. Weak links
    (``WEAK_RELATIONS``: one text inside another, a shared passage) then join those
    clusters, except around a *hub*: a cluster whose weak links reach two or more groups
    of clusters that are not weakly linked to one another (a roundup quoting two stories,
    a passage found in two different reports). A hub keeps only its links to the group it
    lies inside or around (an excerpt link) with the highest Jaccard, then smallest id;
    a hub linked by shared passages only (a roundup of runs from several reports) joins
    none. So a hub never bridges two groups, while nested excerpts of one report (each
    inside the next) form one group and all join it.
    ``first``: when each id was first known (its ``origin`` time); ``words``: its length.
    Copying runs forward in time, so a cluster that came before all its weak neighbours
    and is longer than each it shares an excerpt with is an original copied in several
    parts (a lead excerpt here, a middle passage there), not a compilation: it is no hub.
    (An early short statement quoted by two later reports lies inside them: still a hub.)
    Without dates and lengths every cluster may be one.
    The root is the smallest id of the cluster, so the mapping does not depend on the
    order of ``links`` (a stable name; the origin is decided by ``origin``).
    """
    parent: dict[K, K] = {}
    weak: list[tuple[K, K, tuple[bool, float]]] = []
    for a, b, *rest in links:
        if rest and rest[0] in WEAK_RELATIONS:
            parent.setdefault(a, a)
            parent.setdefault(b, b)
            weak.append((a, b, (rest[0] == "excerpt", (rest[1:] or [None])[0] or 0.0)))
        else:
            _union(parent, a, b)
    base = {member: _find(parent, member) for member in parent}
    strength: dict[tuple[K, K], tuple[bool, float]] = {}
    for a, b, evidence in weak:
        if base[a] != base[b]:
            for key in ((base[a], base[b]), (base[b], base[a])):
                strength[key] = max(strength.get(key, (False, 0.0)), evidence)
    earliest: dict[K, datetime] = {}
    for member, when in (first or {}).items():
        if member in base:
            earliest[base[member]] = min(earliest.get(base[member], when), when)
    longest: dict[K, int] = {}
    for member, n in (words or {}).items():
        if member in base:
            longest[base[member]] = max(longest.get(base[member], n), n)
    near: dict[K, set[K]] = {}
    for a, b in strength:
        near.setdefault(a, set()).add(b)
    originals = {c for c, around in near.items() if _original(c, around, strength, earliest, longest)}
    kept = _kept_links(strength, near, originals)
    for a, b, _ in weak:
        if (base[a], base[b]) in kept and (base[b], base[a]) in kept:
            _union(parent, a, b)
    return {member: _find(parent, member) for member in sorted(parent)}


def _kept_links(strength: dict[tuple[K, K], tuple[bool, float]], near: dict[K, set[K]],
                originals: set[K]) -> set[tuple[K, K]]:
    """(c, n) for each weak neighbour n that cluster c keeps (see ``cluster``)."""
    kept = set()
    for c, around in near.items():
        if c in originals or _group(next(iter(around)), around, near) == around:  # no hub
            kept |= {(c, n) for n in around}
            continue
        inside = [n for n in around if strength[(c, n)][0]]
        if inside:
            best = min(inside, key=lambda n: (-strength[(c, n)][1], n))
            kept |= {(c, n) for n in _group(best, around, near)}
    return kept


def _original(c: K, around: set[K], strength: dict[tuple[K, K], tuple[bool, float]],
              earliest: dict[K, datetime], longest: dict[K, int]) -> bool:
    """Whether cluster ``c`` is known to come before each weak neighbour, and to be the
    longer side of each excerpt link (see ``cluster``)."""
    if c not in earliest:
        return False
    for n in around:
        if n not in earliest or earliest[n] <= earliest[c]:
            return False
        if strength[(c, n)][0] and not (c in longest and n in longest and longest[n] < longest[c]):
            return False
    return True


def _group(start: K, group: set[K], near: dict[K, set[K]]) -> set[K]:
    """The members of ``group`` reached from ``start`` by links among the group itself."""
    seen, todo = {start}, [start]
    while todo:
        for n in near[todo.pop()] & group:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def _find(parent: dict[K, K], x: K) -> K:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression keeps later finds short
        parent[x], x = root, parent[x]
    return root


def _union(parent: dict[K, K], a: K, b: K) -> None:
    parent.setdefault(a, a)
    parent.setdefault(b, b)
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def origin(members: Iterable[tuple[K, datetime | None, datetime]]) -> K:
    """The member that came first: (id, published, first_seen) triples, aware datetimes.

    A member's time is its published date, else when it was first seen; a published
    date later than the first sighting is capped at that sighting (the page demonstrably
    existed then), so a dateless page seen before another's claimed publication still
    counts as earlier. Ties: a member with a published date first, then the smallest id.
    """
    return min(members, key=_origin_key)[0]


def _origin_key(member: tuple[K, datetime | None, datetime]) -> tuple[datetime, bool, K]:
    return origin_time(member), member[1] is None, member[0]


def origin_time(member: tuple[K, datetime | None, datetime]) -> datetime:
    """A member's time for ``origin``: published, capped at its first sighting."""
    _, published, first_seen = member
    return first_seen if published is None else min(published, first_seen)
