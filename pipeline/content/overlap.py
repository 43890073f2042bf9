"""Shared-shingle counts of one text against all its candidates at once (issue 12).

Pure. ``dedup`` confirms each candidate pair on the exact word-shingle sets, each side's
outlet template (and, between two coverage pages, the stories' reference text) left out
(``neardup.compare_shingles``). Pair by pair with Python sets that cost about 0.1 ms a
pair (two set differences, an intersection, a new "ignored" set), and a page of a busy
story has a hundred candidates or more. Here:

- each text is shingled once per pass (``TextCache``) into a sorted uint64 array;
- its *kept* shingles, with its own template and (for coverage pairs) the reference text
  removed, are computed once, not once per pair: for a pair (a, b) the shingles both
  keep are ``kept(a) & kept(b)``, since each side's own part of the ignored set is already
  gone from it, and what a side loses to the *other* outlet's template is counted apart
  (``dedup._Pairs._lost_to``; nothing when both are of one outlet);
- the kept arrays of a chunk become rows of small integer ids (``np.unique``), and one
  text's intersections with all its candidates are one boolean gather and one bincount.

The counts are exact, not estimates, so ``neardup.match_counts`` makes the decisions
``compare_shingles`` makes on the same sets.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from pipeline.content import fingerprint as fp

_EMPTY = np.zeros(0, dtype=np.uint64)


@dataclass(frozen=True)
class Shingled:
    """A text's word count, a digest of its word list (equal digests: the same words, the
    "exact" rule) and its distinct shingles, sorted."""

    words: int
    digest: bytes
    shingles: np.ndarray

    @classmethod
    def of(cls, body: str) -> Shingled:
        tokens = fp.words(body)
        digest = hashlib.blake2b(" ".join(tokens).encode("utf-8"), digest_size=16).digest()
        return cls(len(tokens), digest, fp.shingle_array(tokens))

    def as_set(self) -> set[int]:
        return set(self.shingles.tolist())


class TextCache:
    """``Shingled`` by text, for one pass: a page is read as a pending article, as another
    article's candidate and as one of its outlet's recent pages (templates), and shingled
    once. Bounded (least recently used out), arrays only: about 7 KB per 800-word text."""

    def __init__(self, size: int = 4000) -> None:
        self._size = size
        self._texts: OrderedDict[str, Shingled] = OrderedDict()

    def of(self, body: str) -> Shingled:
        found = self._texts.get(body)
        if found is None:
            found = self._texts[body] = Shingled.of(body)
            if len(self._texts) > self._size:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(body)
        return found


def as_array(shingles: Iterable[int]) -> np.ndarray:
    """A set of shingle hashes as a sorted uint64 array."""
    return np.unique(np.fromiter(shingles, dtype=np.uint64))


def without(shingles: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """The shingles (sorted, distinct) that are not in ``drop`` (sorted)."""
    return shingles[~_member(shingles, drop)]


def count_in(shingles: np.ndarray, drop: np.ndarray) -> int:
    """How many of the shingles (sorted, distinct) are in ``drop`` (sorted)."""
    return int(np.count_nonzero(_member(shingles, drop)))


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if sorted_set.size == 0 or values.size == 0:
        return np.zeros(values.size, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[at] == values


class Overlaps:
    """Kept shingle arrays as rows of small ids, for counting one row's shared shingles
    with many rows in one pass."""

    def __init__(self, kept: Mapping[str, np.ndarray]) -> None:
        names = list(kept)
        sizes = [kept[n].size for n in names]
        flat = np.concatenate([kept[n] for n in names]) if names else _EMPTY
        distinct, ids = np.unique(flat, return_inverse=True)
        ends = np.cumsum(sizes).tolist()
        self._ids = {n: ids[end - size:end] for n, size, end in zip(names, sizes, ends)}
        self._mask = np.zeros(distinct.size, dtype=bool)

    def shared(self, me: str, others: list[str]) -> list[int]:
        """|kept(me) & kept(o)| for each of ``others``, in their order."""
        if not others:
            return []
        rows = [self._ids[o] for o in others]
        owner = np.repeat(np.arange(len(rows)), [r.size for r in rows])
        self._mask[self._ids[me]] = True
        try:
            hits = self._mask[np.concatenate(rows)]
        finally:
            self._mask[self._ids[me]] = False
        return np.bincount(owner[hits], minlength=len(rows)).tolist()
