"""Near-duplicates and clusters of copies, over what the warehouse holds.

Steps, each resumable (an article is marked checked in the same transaction as its links):
1. candidates: articles sharing an LSH band key (MinHash, ``fingerprint.band_keys``), plus
   articles with the same normalized-text hash; never all pairs, and only index lookups,
   so the cost of checking an article does not grow with the warehouse;
2. confirm: exact word-shingle Jaccard / containment (``neardup.compare_shingles``), with
   each side's outlet template (learnt first from the outlet's recent pages and stored,
   ``learn_templates``) left out, and between two coverage pages the text of the stories'
   reference articles too; pages of different outlets sharing a passage are linked;
3. two more links that need no text: a page's canonical link to another outlet's page
   (the publisher's syndication claim), and Media Cloud's rule, the same normalized title
   inside one outlet within 7 days (a story republished at a new URL), found through a
   key of (outlet, normalized title) and checked on the article rows;
4. clusters: union-find over the links, excerpt and passage links never bridging two
   clusters (``neardup.cluster``); the origin is the earliest published member, else
   the earliest seen (``neardup.origin``); everything else in the cluster is a copy. After
   a run only the clusters of the articles just checked are recomputed (the same result
   as a full rebuild: the part recomputed is closed under links and clusters).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

import xxhash

import numpy as np

from pipeline.content import fingerprint as fp
from pipeline.content import neardup
from pipeline.content.overlap import Overlaps, Shingled, TextCache, as_array, count_in, without
from pipeline.store import Store

Link = tuple[str, str, str, float | None, float | None]  # a < b, relation, jaccard, containment


CHUNK = 200  # articles checked, and committed, together
# Articles whose candidates are looked up together: one scan of the band table, when that
# is cheaper than the index (``Store.candidates_of``), serves this many (issue 12).
LOOKUP = 10 * CHUNK
TITLE_WINDOW_S = 7 * 86400
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Outlets whose templates are learnt together: 100 windows of 60 800-word pages are
# about 40 MB of shingle arrays (and as much again of blobs to write when rebuilt).
TEMPLATE_GROUP = 100


def link_pending(store: Store, now: datetime, progress: Callable[[int, int], None] | None = None) -> int:
    """Check every article not checked yet; returns the number of links found. Each chunk
    is committed with its "checked" marks (and queued for ``recluster``), so an
    interrupted pass resumes where it was."""
    _backfill_title_keys(store)
    pending = store.articles_to_dedup()
    texts = TextCache()
    learn_templates(store, {a["outlet_id"] for a in pending if a.get("outlet_id")}, now, texts, pending)
    references = store.reference_bodies()
    quoted = frozenset().union(*(texts.of(body).as_set() for body in references.values()))
    store.save_title_keys([(a["article_id"], key) for a in pending if a["status"] == "extracted"
                           for key in [_title_key(a)] if key is not None])
    found = 0
    candidates: dict[str, set[str]] = {}
    for start in range(0, len(pending), CHUNK):
        part = pending[start:start + CHUNK]
        if start % LOOKUP == 0:  # the band table does not change during the pass
            candidates = _candidates(store, pending[start:start + LOOKUP])
        links = _links_for_chunk(store, part, candidates, quoted, frozenset(references), texts)
        store.save_dup_links(links, [a["article_id"] for a in part], now)
        found += len(links)
        if progress:
            progress(start + len(part), len(pending))
    return found


def _backfill_title_keys(store: Store) -> None:
    """Title keys of the articles checked before migration 0012 (once)."""
    if not store.task_pending("title_keys"):
        return
    for part in store.titled_articles():
        store.save_title_keys([(a["article_id"], key) for a in part for key in [_title_key(a)] if key is not None])
    store.save_title_keys([], task_done="title_keys")


def learn_templates(store: Store, outlet_ids: set[str], now: datetime, texts: TextCache | None = None,
                    pending: Sequence[dict[str, Any]] = ()) -> None:
    """Relearn the template shingles of these outlets from their ``TEMPLATE_SAMPLE`` most
    recently seen pages. An outlet whose window was kept (migration 0016) takes it and
    merges in its ``pending`` pages (the articles not checked yet: every page that can
    have entered it since); the others are read and shingled from ``articles``. Both give
    the same window, so the same template (tests/test_template_window.py). Outlets are
    learnt ``TEMPLATE_GROUP`` at a time, each group saved in its own transaction, so the
    pages held stay bounded."""
    texts = texts or TextCache()
    fresh: dict[str, list[dict[str, Any]]] = {}
    for a in pending:
        if a.get("outlet_id") in outlet_ids and a["status"] == "extracted":
            fresh.setdefault(a["outlet_id"], []).append(a)
    ordered = sorted(outlet_ids)
    for start in range(0, len(ordered), TEMPLATE_GROUP):
        _learn_group(store, ordered[start:start + TEMPLATE_GROUP], now, texts, fresh)


def _learn_group(store: Store, outlets: list[str], now: datetime, texts: TextCache,
                 pending: dict[str, list[dict[str, Any]]]) -> None:
    kept = {o: {p.article_id: p for p in map(_Page.stored, pages)} for o, pages in store.template_windows(outlets).items()}
    fresh = {o: {a["article_id"]: _Page.of(a, texts) for a in pending.get(o, ())} for o in kept}
    windows = {o: _recent({**kept[o], **fresh[o]}) for o in kept}
    rebuilt = [o for o in outlets if o not in kept]
    for o, pages in store.outlet_pages(rebuilt, neardup.TEMPLATE_SAMPLE).items():
        windows[o] = [_Page(aid, seen, texts.of(body)) for aid, seen, body in pages]
    learnt = {o: (len(w), neardup.template_of_arrays([p.text.shingles for p in w])) for o, w in windows.items() if w}
    store.save_outlet_templates(learnt, now, (rebuilt, *_window_changes(kept, fresh, windows)))


def _window_changes(kept: dict[str, dict[str, _Page]], fresh: dict[str, dict[str, _Page]],
                    windows: dict[str, list[_Page]]) -> tuple[list[str], list[tuple]]:
    """(article ids whose kept rows go, rows that come in): kept windows lose the pages
    that fell out and the pages read again (pending), and gain the pending pages in them;
    a rebuilt window (not in ``kept``) comes in whole."""
    ids = {o: {p.article_id for p in w} for o, w in windows.items()}
    dropped = [a for o in kept for a in kept[o] if a not in ids[o] or a in fresh[o]]
    added = [(o, p.article_id, p.seen, p.text.words, p.text.digest, p.text.shingles.astype("<u8").tobytes())
             for o, w in windows.items() for p in w if o not in kept or p.article_id in fresh[o]]
    return dropped, added


@dataclass(frozen=True)
class _Page:
    """One page of an outlet's template window."""

    article_id: str
    seen: int  # first_seen_at, microseconds since the epoch
    text: Shingled

    @classmethod
    def of(cls, article: dict[str, Any], texts: TextCache) -> _Page:
        seen = (article["first_seen_at"] - _EPOCH) // timedelta(microseconds=1)
        return cls(article["article_id"], seen, texts.of(article["body"]))

    @classmethod
    def stored(cls, row: tuple) -> _Page:
        article_id, seen, words, digest, shingles = row
        return cls(article_id, seen, Shingled(words, bytes(digest), np.frombuffer(shingles, dtype="<u8")))


def _recent(pages: dict[str, _Page]) -> list[_Page]:
    """The ``TEMPLATE_SAMPLE`` most recently seen pages, in ``outlet_pages``'s order."""
    ordered = sorted(sorted(pages.values(), key=lambda p: p.article_id), key=lambda p: p.seen, reverse=True)
    return ordered[:neardup.TEMPLATE_SAMPLE]


@dataclass(frozen=True)
class _Setting:
    """What a comparison leaves out and allows: each side's outlet template, and (between
    two coverage pages) the text of the stories' reference articles, which both may
    quote; a shared passage counts only between pages of different outlets."""

    templates: dict[str, frozenset[int]]
    outlets: dict[str, str]
    quoted: frozenset[int]
    references: frozenset[str]

    def quotes(self, a: str, b: str) -> bool:
        """Whether the reference text is left out too: neither side is a reference."""
        return a not in self.references and b not in self.references

    def passage(self, a: str, b: str) -> bool:
        mine, theirs = self.outlets.get(a), self.outlets.get(b)
        return mine is not None and theirs is not None and mine != theirs


def _candidates(store: Store, articles: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Each article's candidates: shared LSH band key or content hash."""
    ids = [a["article_id"] for a in articles]
    keys = {aid: fp.band_keys(tuple(sig)) for aid, sig in store.signatures(ids).items()}
    return store.candidates_of(keys, {a["article_id"]: a["content_hash"] for a in articles})


def _links_for_chunk(store: Store, part: list[dict[str, Any]], candidates: dict[str, set[str]],
                     quoted: frozenset[int], references: frozenset[str], texts: TextCache) -> list[Link]:
    ids = [a["article_id"] for a in part]
    others = sorted({o for a in ids for o in candidates.get(a, ())})
    read = store.texts_of(others)  # one key lookup for the candidates' bodies and outlets
    shingled = {aid: texts.of(body) for aid, (_, body) in read.items()}
    # Shingling is most of the Python cost; an article without candidates needs none.
    mine = {a["article_id"]: texts.of(a["body"]) for a in part if a["article_id"] in candidates}
    titled = _title_candidates(store, part)
    outlets = {aid: o for aid, (o, _) in read.items() if o is not None}
    outlets.update({a["article_id"]: a["outlet_id"] for a in part if a.get("outlet_id") is not None})
    templates = store.outlet_template_sets(sorted(set(outlets.values())))
    setting = _Setting({a: templates[o] for a, o in outlets.items() if o in templates}, outlets, quoted, references)
    pairs = _Pairs({**shingled, **mine}, setting)
    links: dict[tuple[str, str], Link] = {}
    for article in part:
        near = candidates.get(article["article_id"], set())
        found = pairs.links(article["article_id"], sorted(near & shingled.keys())) if near else []
        for link in found + _canonical_links(store, article) + _title_links(article, titled):
            links.setdefault((link[0], link[1]), link)
    return [links[k] for k in sorted(links)]


class _Pairs:
    """Text links of one article with its candidates: ``neardup.match_counts`` on exact
    counts (``overlap``), the same decisions as ``neardup.compare_shingles`` with
    ``ignore`` = both sides' templates (+ the reference text unless a side is one)."""

    def __init__(self, texts: dict[str, Shingled], setting: _Setting) -> None:
        self.texts, self.setting = texts, setting
        self._drops: dict[tuple[str | None, bool], np.ndarray] = {}
        self._kept: dict[tuple[str, bool], np.ndarray] = {}
        self._overlaps: dict[bool, Overlaps] = {}
        self._lost: dict[tuple[str, bool, str | None], int] = {}
        # the outlet whose template a text carries (None: none); equal keys, equal templates
        self._template_of = {t: setting.outlets.get(t) if setting.templates.get(t) else None for t in texts}

    def links(self, me: str, others: list[str]) -> list[Link]:
        found = []
        for quotes in (True, False):
            side = [o for o in others if self.setting.quotes(me, o) == quotes]
            found += [self._link(me, side[i], counts) for i, counts in self._maybe(me, side, quotes)]
        return sorted(link for link in found if link is not None)

    def _maybe(self, me: str, side: list[str], quotes: bool) -> list[tuple[int, tuple[int, int, int]]]:
        """(position, (shared, size_a, size_b)) of the candidates whose counts can make a
        link; the others are "distinct" whatever their word counts: different texts,
        Jaccard under ``COPY_JACCARD``, containment under ``EXCERPT_CONTAINMENT``, fewer
        shared shingles than ``PASSAGE_SHINGLES``. Decided for all candidates at once, in
        numpy."""
        if not side:
            return []
        shared = np.array(self._overlaps_of(quotes).shared(me, side), dtype=np.int64)
        size_a = np.array([self._kept_of(me, quotes).size - self._lost_to(me, o, quotes) for o in side])
        size_b = np.array([self._kept_of(o, quotes).size - self._lost_to(o, me, quotes) for o in side])
        mine = self.texts[me]
        same = np.array([mine.words > 0 and self.texts[o].digest == mine.digest for o in side], dtype=bool)
        union, smaller = size_a + size_b - shared, np.minimum(size_a, size_b)
        j = np.divide(shared, union, out=np.zeros(len(side)), where=union > 0)
        c = np.divide(shared, smaller, out=np.zeros(len(side)), where=smaller > 0)
        slack = 1e-9  # the decision itself is ``neardup.match_counts``'s, in Python floats
        maybe = same | (j >= neardup.COPY_JACCARD - slack) | (c >= neardup.EXCERPT_CONTAINMENT - slack)
        maybe |= shared >= neardup.PASSAGE_SHINGLES
        return [(int(i), (int(shared[i]), int(size_a[i]), int(size_b[i]))) for i in np.flatnonzero(maybe)]

    def _link(self, me: str, other: str, counts: tuple[int, int, int]) -> Link | None:
        a, b = self.texts[me], self.texts[other]
        shared, size_a, size_b = counts
        # every ignored shingle stands for about one word of template (compare_shingles)
        words_a, words_b = a.words - (a.shingles.size - size_a), b.words - (b.shingles.size - size_b)
        match = neardup.match_counts(shared, size_a, size_b, words_a, words_b, exact=a.words > 0 and
                                     a.digest == b.digest, passage=self.setting.passage(me, other))
        return _pair(me, other, match.relation, match.jaccard, match.containment) if match.duplicate else None

    def _overlaps_of(self, quotes: bool) -> Overlaps:
        if quotes not in self._overlaps:
            self._overlaps[quotes] = Overlaps({t: self._kept_of(t, quotes) for t in self.texts})
        return self._overlaps[quotes]

    def _kept_of(self, article: str, quotes: bool) -> np.ndarray:
        """The article's shingles without its own template (and the reference text)."""
        if (article, quotes) not in self._kept:
            self._kept[(article, quotes)] = without(self.texts[article].shingles, self._drop(article, quotes))
        return self._kept[(article, quotes)]

    def _drop(self, article: str, quotes: bool) -> np.ndarray:
        template = self.setting.templates.get(article, frozenset())
        key = (self.setting.outlets.get(article) if template else None, quotes)
        if key not in self._drops:
            self._drops[key] = as_array(template | self.setting.quoted if quotes else template)
        return self._drops[key]

    def _lost_to(self, article: str, other: str, quotes: bool) -> int:
        """How many of the article's kept shingles the other side's template removes."""
        if self._template_of[article] == self._template_of[other]:
            return 0
        key = (article, quotes, self._template_of[other])
        if key not in self._lost:
            theirs = as_array(self.setting.templates.get(other, frozenset()))
            self._lost[key] = count_in(self._kept_of(article, quotes), theirs)
        return self._lost[key]


def _canonical_links(store: Store, article: dict[str, Any]) -> list[Link]:
    declared = article.get("declared_canonical")
    if not declared:
        return []
    known = store.article_for_url(fp.canonical_url(declared))
    if not known or known[0] == article["article_id"]:
        return []
    return [_pair(article["article_id"], known[0], "canonical", None, None)]


def _title_key(article: dict[str, Any]) -> int | None:
    """The key of (outlet, normalized title), or None when the title rule does not apply:
    no outlet, no title, or a title too generic to mean one story."""
    if not article.get("outlet_id") or not article.get("title"):
        return None
    title = fp.normalized_title(article["title"], article.get("site_name"))
    if len(title.split()) < 4:  # "Live updates", "Opinion": too generic to mean the same story
        return None
    return xxhash.xxh3_64_intdigest(f"{article['outlet_id']}\x00{title}".encode()) & ((1 << 63) - 1)


def _title_candidates(store: Store, part: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """For each article of ``part``: the rows of the articles holding its title key."""
    keys = {a["article_id"]: k for a in part for k in [_title_key(a)] if k is not None}
    holders = store.title_key_holders(list(keys.values()))
    rows = store.title_rows(sorted({o for h in holders.values() for o in h}))
    return {me: [rows[o] for o in sorted(holders.get(k, ())) if o in rows] for me, k in keys.items()}


def _title_links(article: dict[str, Any], titled: dict[str, list[dict[str, Any]]]) -> list[Link]:
    """Media Cloud's rule: same normalized title, same outlet, within 7 days. The key only
    finds candidates; each is checked on its current row."""
    me = article["article_id"]
    if me not in titled:
        return []
    mine = fp.normalized_title(article["title"], article.get("site_name"))
    when = article["published_at"] or article["first_seen_at"]
    return [_pair(me, o["article_id"], "title", None, None) for o in titled[me]
            if o["article_id"] != me and o["outlet_id"] == article["outlet_id"] and o["status"] == "extracted"
            and o["title"] is not None and abs(((o["published_at"] or o["first_seen_at"]) - when).total_seconds())
            <= TITLE_WINDOW_S and fp.normalized_title(o["title"], o["site_name"]) == mine]


def _pair(a: str, b: str, relation: str, jaccard: float | None, containment: float | None) -> Link:
    lo, hi = sorted((a, b))
    return (lo, hi, relation, None if jaccard is None else round(jaccard, 4),
            None if containment is None else round(containment, 4))


def recluster(store: Store, full: bool = False) -> int:
    """Bring the clusters table up to date with the links; returns the number of
    multi-member clusters written. By default only the clusters of the articles checked
    since the last recluster (``Store.cluster_queue``) and the clusters they now join are
    recomputed; ``full`` rebuilds every cluster (``rescore --duplicates``)."""
    if full:
        pairs, members = store.cluster_inputs()
    else:
        affected, pairs = store.cluster_neighbourhood(store.cluster_queue())
        members = store.clusterable(sorted(affected))
    rows, multi = _cluster_rows(pairs, members, store.word_counts([m[0] for m in members]))
    if full:
        store.replace_clusters(rows)
    else:
        store.rewrite_clusters(sorted(affected), rows)
    return multi


def _cluster_rows(pairs: list[tuple], members: list[tuple[str, datetime | None, datetime]],
                  words: dict[str, int]) -> tuple[list[tuple[str, str, bool]], int]:
    roots = neardup.cluster(pairs, {m[0]: neardup.origin_time(m) for m in members}, words)
    groups: dict[str, list[tuple[str, datetime | None, datetime]]] = {}
    for member in members:
        groups.setdefault(roots.get(member[0], member[0]), []).append(member)
    rows = []
    for group in groups.values():
        first = neardup.origin(group)
        rows += [(m[0], first, m[0] == first) for m in group]
    return rows, sum(1 for g in groups.values() if len(g) > 1)
