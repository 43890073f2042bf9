"""pipeline.neardup: copy / excerpt / distinct decisions on real articles, clusters, origin."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.content import fingerprint as fp
from pipeline.content import neardup
from pipeline.content.neardup import compare

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
DATA = ROOT / "tests" / "data" / "neardup"
OUTLETS = ("outlet_harbor", "outlet_quill", "outlet_meridian")
OFF_TOPIC = ("offtopic_council", "offtopic_harvest")


def seed(i: int) -> str:
    return SEEDS[i].read_text(encoding="utf-8")


def data(name: str) -> str:
    return (DATA / f"{name}.txt").read_text(encoding="utf-8")


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def in_outlet(outlet: str, headline: str, body: list[str]) -> str:
    """The body under another outlet's navigation, related links and footer."""
    return data(outlet).replace("{{HEADLINE}}", headline).replace("{{BODY}}", "\n".join(body))


def first_paragraphs(text: str, share: float) -> str:
    p = paragraphs(text)
    return "\n".join(p[: max(2, round(len(p) * share))])


# ------------------------------------------------------------------ copies found

def test_presentation_changes_are_exact() -> None:
    text = seed(2)
    assert compare(text, text.upper().replace("\u2019", "'")).relation == "exact"


@pytest.mark.parametrize(("i", "outlet"), list(itertools.product(range(5), OUTLETS)))
def test_reboilerplated_copy_with_new_headline(i: int, outlet: str) -> None:
    body = paragraphs(seed(i))[1:]
    copy = in_outlet(outlet, "Rival lab's plan explained: what a pause would mean", body)
    assert compare(seed(i), copy).relation == "copy"


@pytest.mark.parametrize(("i", "share"), list(itertools.product(range(5), (0.6, 0.4))))
def test_trimmed_copy_is_a_duplicate(i: int, share: float) -> None:
    match = compare(seed(i), first_paragraphs(seed(i), share))
    assert match.duplicate
    assert match.containment > 0.95  # nothing was added, only cut


@pytest.mark.parametrize("i", range(5))
def test_first_three_paragraphs_are_an_excerpt(i: int) -> None:
    excerpt = "\n".join(paragraphs(seed(i))[:3] + ["Read the full story on the publisher's site."])
    assert compare(seed(i), excerpt).relation == "excerpt"


def test_hand_edited_copy() -> None:
    # Headline changed, three sentences reworded, a paragraph inserted, footer dropped.
    match = compare(seed(4), data("edited_004"))
    assert match.relation == "copy"
    assert match.jaccard < 0.9


def test_hand_made_excerpt() -> None:
    assert compare(data("excerpt_001"), seed(1)).relation == "excerpt"


def test_programmatic_light_edit_is_a_copy() -> None:
    rng = random.Random(3)
    edited = []
    for p in paragraphs(seed(0)):
        words = p.split()
        if rng.random() < 0.2:  # reword: drop every third word of a paragraph
            words = [w for n, w in enumerate(words) if n % 3 != 2]
        edited.append(" ".join(words))
    edited.insert(5, paragraphs(data("offtopic_council"))[2])
    assert compare(seed(0), "\n".join(edited)).relation == "copy"


# ------------------------------------------------------------------ non-copies

@pytest.mark.parametrize(("i", "j"), list(itertools.combinations(range(5), 2)))
def test_different_reports_of_one_story_are_distinct(i: int, j: int) -> None:
    match = compare(seed(i), seed(j))
    assert match.relation == "distinct"
    assert match.jaccard < 0.05


@pytest.mark.parametrize(("i", "name"), list(itertools.product(range(5), OFF_TOPIC)))
def test_off_topic_texts_are_distinct(i: int, name: str) -> None:
    assert compare(seed(i), data(name)).relation == "distinct"


def test_same_outlet_template_alone_is_not_a_copy() -> None:
    a = in_outlet("outlet_quill", "Story one", paragraphs(seed(0))[:8])
    b = in_outlet("outlet_quill", "Story two", paragraphs(seed(3))[:8])
    assert compare(a, b).relation == "distinct"


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(("brief_a", "brief_b", "brief_c"), 2)))
def test_short_briefs_sharing_a_quote_are_distinct(a: str, b: str) -> None:
    assert fp.containment(fp.shingles(data(a)), fp.shingles(data(b))) > 0.2  # they do share it
    assert compare(data(a), data(b)).relation == "distinct"


def test_off_topic_texts_distinct_from_each_other() -> None:
    assert compare(*(data(n) for n in OFF_TOPIC)).relation == "distinct"


def test_empty_texts_are_not_duplicates() -> None:
    assert compare("", " \u2014 ").relation == "distinct"


# ------------------------------------------------------------------ thresholds, both sides

FOREIGN = " ".join(paragraphs(data("offtopic_council")) + paragraphs(data("offtopic_harvest")))


def boundary(make_pair, score, threshold: float, sizes: range) -> int:
    """The first size at which ``score(pair)`` reaches ``threshold``."""
    for n in sizes:
        if score(*make_pair(n)) >= threshold:
            return n
    raise AssertionError("threshold never reached")


def test_long_copy_threshold_both_sides() -> None:
    original = " ".join(fp.words(seed(0)))
    words = original.split()
    pair = lambda n: (original, " ".join(words[:n]) + " " + FOREIGN)  # noqa: E731
    jac = lambda a, b: fp.jaccard(fp.shingles(a), fp.shingles(b))  # noqa: E731
    n = boundary(pair, jac, neardup.COPY_JACCARD, range(100, len(words)))
    above, below = compare(*pair(n)), compare(*pair(n - 1))
    assert above.relation == "copy" and above.jaccard >= neardup.COPY_JACCARD
    assert below.relation == "distinct" and below.jaccard < neardup.COPY_JACCARD
    assert below.containment < neardup.EXCERPT_CONTAINMENT


def test_short_texts_need_the_stricter_threshold() -> None:
    words = fp.words(seed(1))[:120]
    foreign = FOREIGN.split()[:30]
    pair = lambda n: (" ".join(words), " ".join(words[:n] + foreign))  # noqa: E731
    jac = lambda a, b: fp.jaccard(fp.shingles(a), fp.shingles(b))  # noqa: E731
    n = boundary(pair, jac, neardup.COPY_JACCARD_SHORT, range(20, 120))
    above, below = compare(*pair(n)), compare(*pair(n - 1))
    assert above.relation == "copy"
    assert below.relation == "distinct"
    assert neardup.COPY_JACCARD <= below.jaccard < neardup.COPY_JACCARD_SHORT  # long rule would say copy
    assert min(len(a.split()) for a in pair(n - 1)) < neardup.LONG_TEXT_WORDS


def test_excerpt_containment_threshold_both_sides() -> None:
    original = seed(3)
    words = fp.words(original)
    foreign = FOREIGN.split()
    excerpt = lambda n: (original, " ".join(words[:n] + foreign[: 100 - n]))  # noqa: E731
    cont = lambda a, b: fp.containment(fp.shingles(a), fp.shingles(b))  # noqa: E731
    n = boundary(excerpt, cont, neardup.EXCERPT_CONTAINMENT, range(40, 100))
    assert compare(*excerpt(n)).relation == "excerpt"
    assert compare(*excerpt(n - 1)).relation == "distinct"


def test_excerpt_needs_enough_words() -> None:
    original = seed(3)
    words = fp.words(original)
    shortest = neardup.EXCERPT_MIN_WORDS
    assert compare(original, " ".join(words[:shortest])).relation == "excerpt"
    assert compare(original, " ".join(words[: shortest - 1])).relation == "distinct"


def test_ignored_boilerplate_shingles() -> None:
    template = fp.shingles(data("outlet_harbor"))
    a = in_outlet("outlet_harbor", "In brief", paragraphs(seed(1))[1:3])
    b = in_outlet("outlet_harbor", "In brief", paragraphs(seed(4))[1:4])
    copy = in_outlet("outlet_quill", "Elsewhere", paragraphs(seed(1))[1:3])
    sa, sb, sc = fp.shingles(a), fp.shingles(b), fp.shingles(copy)
    wa, wb, wc = len(fp.words(a)), len(fp.words(b)), len(fp.words(copy))
    # The outlet furniture outweighs two short different items: the plain rule errs...
    assert neardup.compare_shingles(sa, sb, wa, wb).duplicate
    # ...and ignoring that outlet's frequent shingles fixes it, keeping the real copy.
    assert neardup.compare_shingles(sa, sb, wa, wb, ignore=frozenset(template)).relation == "distinct"
    assert neardup.compare_shingles(sa, sc, wa, wc, ignore=frozenset(template)).duplicate


# ------------------------------------------------------------------ clusters and origin

def test_cluster_roots_are_smallest_ids_whatever_the_order() -> None:
    pairs = [("d", "b"), ("b", "e"), ("x", "z"), ("c", "d"), ("y", "x")]
    expected = {"b": "b", "c": "b", "d": "b", "e": "b", "x": "x", "y": "x", "z": "x"}
    assert neardup.cluster(pairs) == expected
    for perm in itertools.islice(itertools.permutations(pairs), 0, None, 7):
        assert neardup.cluster([(b, a) for a, b in perm]) == expected


def test_cluster_of_real_copies() -> None:
    texts = {
        "a1": seed(1), "a2": data("excerpt_001"), "a3": first_paragraphs(seed(1), 0.6),
        "b1": seed(4), "b2": data("edited_004"), "c1": seed(2),
    }
    pairs = [(x, y) for x, y in itertools.combinations(sorted(texts), 2) if compare(texts[x], texts[y]).duplicate]
    roots = neardup.cluster(pairs)
    assert roots == {"a1": "a1", "a2": "a1", "a3": "a1", "b1": "b1", "b2": "b1"}


def test_excerpt_links_attach_nested_excerpts_to_their_report() -> None:
    # a report, two nested lead excerpts of it (each inside the next) and a copy of it
    links = [("a", "a2", "copy"), ("e1", "a", "excerpt"), ("e2", "a", "excerpt"),
             ("e2", "e1", "excerpt"), ("e1", "a2", "excerpt")]
    assert set(neardup.cluster(links).values()) == {"a"}


def test_a_roundup_does_not_chain_two_clusters() -> None:
    # r reproduces a short item of cluster {a, a2} and one of cluster {b, b2} whole: it
    # joins the one it shares most with (Jaccard), never both
    links = [("a", "a2", "copy"), ("b", "b2", "copy"), ("a", "r", "excerpt", 0.12),
             ("b", "r", "excerpt", 0.2), ("a2", "r", "excerpt", 0.1)]
    roots = neardup.cluster(links)
    assert roots["a"] == roots["a2"] == "a" and roots["b"] == roots["b2"] == "b"
    assert roots["r"] == "b"
    # the decision does not depend on the order of the links
    assert neardup.cluster(reversed(links)) == roots


def test_a_passage_inside_two_reports_joins_one_of_them() -> None:
    # q lies inside both x and y, which are not copies of each other
    roots = neardup.cluster([("q", "x", "excerpt", 0.1), ("q", "y", "excerpt", 0.3)])
    assert roots == {"q": "q", "x": "x", "y": "q"}
    # equal evidence: the smallest id, whatever the order
    assert neardup.cluster([("q", "y", "excerpt"), ("q", "x", "excerpt")])["x"] == "q"
    # the hub's own copies follow it
    roots = neardup.cluster([("q", "x", "excerpt", 0.1), ("q", "y", "excerpt", 0.3), ("q", "q2", "exact")])
    assert roots["q2"] == roots["q"] == roots["y"] != roots["x"]


def test_two_windows_of_one_text_share_a_passage_across_outlets() -> None:
    words = fp.words(seed(3))
    one, two = " ".join(words[0:300]), " ".join(words[220:520])  # overlap: 80 words
    a, b = fp.shingles(one), fp.shingles(two)
    assert neardup.compare_shingles(a, b, 300, 300).relation == "distinct"
    assert neardup.compare_shingles(a, b, 300, 300, passage=True).relation == "passage"
    # the same overlap set aside (e.g. it is the story's reference text): nothing left
    assert neardup.compare_shingles(a, b, 300, 300, ignore=frozenset(a & b), passage=True).relation == "distinct"
    # a shorter overlap is a quote, not a passage
    three = " ".join(words[260:560])  # overlap with ``one``: 40 words
    assert neardup.compare_shingles(a, fp.shingles(three), 300, 300, passage=True).relation == "distinct"


def test_a_roundup_of_passages_joins_none() -> None:
    links = [("r", "a", "passage", 0.2), ("r", "b", "passage", 0.3), ("c", "a", "copy", 0.7)]
    roots = neardup.cluster(links)
    assert roots == {"a": "a", "b": "b", "c": "a", "r": "r"}
    # the same page sharing a passage with one text only joins it
    assert neardup.cluster([("r", "a", "passage", 0.2)]) == {"a": "a", "r": "a"}


def test_an_original_copied_in_several_parts_is_no_hub() -> None:
    # o came first and is the longest: a lead excerpt e and a middle window w both join it
    links = [("o", "e", "excerpt", 0.2), ("o", "w", "passage", 0.15)]
    when = {"o": T0, "e": T0 + H, "w": T0 + 2 * H}
    words = {"o": 900, "e": 120, "w": 400}
    assert set(neardup.cluster(links, when, words).values()) == {"e"}
    # without dates o looks like a roundup of e and w: it keeps its excerpt only
    assert neardup.cluster(links, None, words) == {"e": "e", "o": "e", "w": "w"}
    # an early short statement s inside two later reports is still a hub
    links = [("s", "a", "excerpt", 0.1), ("s", "m", "excerpt", 0.2)]
    roots = neardup.cluster(links, {"s": T0, "a": T0 + H, "m": T0 + H}, {"s": 80, "a": 700, "m": 600})
    assert roots["a"] != roots["m"]


def test_strong_links_always_join() -> None:
    assert set(neardup.cluster([("a", "b", "copy"), ("b", "c", "canonical"), ("c", "d", "title")]).values()) == {"a"}


def test_template_is_what_an_outlet_repeats_on_its_pages() -> None:
    pages = [fp.shingles(in_outlet("outlet_harbor", f"Story {i}", paragraphs(seed(i))[1:4])) for i in range(5)]
    on_every_page = set.intersection(*pages)
    assert len(on_every_page) > 50
    learnt = neardup.template_shingles(pages)
    assert on_every_page <= learnt
    assert not learnt & fp.shingles(" ".join(paragraphs(seed(0))[1:4]))
    # two pages of one outlet: too few to tell its template from a shared story
    assert neardup.template_shingles(pages[:2]) == frozenset()


def test_an_outlet_carrying_one_story_does_not_learn_it_as_template() -> None:
    body = paragraphs(seed(2))[1:]
    pages = [fp.shingles(in_outlet("outlet_quill", f"Take {i}", body[: len(body) - i])) for i in range(4)]
    pages.append(fp.shingles(in_outlet("outlet_quill", "Other", paragraphs(seed(3))[1:])))
    learnt = neardup.template_shingles(pages)
    story = fp.shingles(" ".join(body))
    assert len(learnt & story) <= 0.05 * len(story)


def test_cluster_of_nothing() -> None:
    assert neardup.cluster([]) == {}
    assert neardup.cluster([(3, 3)]) == {3: 3}


T0 = datetime(2026, 6, 4, 12, tzinfo=timezone.utc)
H = timedelta(hours=1)


def test_origin_earliest_published() -> None:
    assert neardup.origin([("b", T0, T0 + 5 * H), ("a", T0 + H, T0 + 2 * H)]) == "b"


def test_origin_without_dates_uses_first_seen() -> None:
    assert neardup.origin([("b", None, T0 + H), ("c", None, T0), ("a", None, T0 + 2 * H)]) == "c"


def test_origin_dateless_page_seen_before_a_claimed_date() -> None:
    assert neardup.origin([("a", T0 + 3 * H, T0 + 4 * H), ("b", None, T0 + H)]) == "b"


def test_origin_caps_published_at_first_seen() -> None:
    # b claims a later date than the moment it was seen; it was seen before a.
    assert neardup.origin([("a", T0 + H, T0 + H), ("b", T0 + 9 * H, T0)]) == "b"


def test_origin_ties() -> None:
    assert neardup.origin([("b", T0, T0), ("a", T0, T0)]) == "a"
    assert neardup.origin([("a", None, T0), ("b", T0, T0 + H)]) == "b"  # a date beats none
