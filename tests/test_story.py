"""Story definition, relevance scoring and its evaluation against the labelled set.

tests/data/labelled holds hand-written articles with labels and a dev/test split: the
scorer's design and thresholds were chosen looking at dev only; test is only measured.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.config import stories
from pipeline.errors import ConfigError
from pipeline.story import evaluate as ev
from pipeline.story import scorer as st

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
LABELLED = ROOT / "tests" / "data" / "labelled"
SEEDS = ev.reference_seeds(ROOT / "seeds")
JUNE_10 = datetime(2026, 6, 10, 12, 0, tzinfo=timezone.utc)


def default_story() -> stories.StoryDef:
    doc = tomllib.loads((CONFIG / "stories" / "rsi-pause.toml").read_text(encoding="utf-8"))
    return stories.story_from_dict(doc, "stories/rsi-pause.toml")


def minimal_doc(**changes: object) -> dict:
    doc: dict = {
        "id": "demo", "name": "Demo", "window_start": date(2026, 1, 1), "reference": "seeds",
        "terms": {"anchor": ["Acme"], "topic": {"recall": ["recall*"], "fire": ["fire", "blaze"]}},
        "thresholds": {"relevant": 0.6, "borderline": 0.3},
    }
    doc.update(changes)
    return doc


# ---------------------------------------------------------------- the definition

def test_default_story_toml_parses_into_a_story_def() -> None:
    story = default_story()
    assert story.id == "rsi-pause"
    assert story.window_start == date(2026, 6, 1) and story.window_end is None
    assert (CONFIG / story.reference).resolve() == (ROOT / "seeds").resolve()
    assert "Anthropic" in story.terms.anchor
    assert [g for g, _ in story.terms.topic] == ["self_improvement", "slow_or_pause", "post", "authors"]
    assert 0 < story.thresholds.borderline <= story.thresholds.relevant <= 1


def test_every_problem_names_the_file_and_the_key() -> None:
    doc = minimal_doc(window_start="2026-06-01", colour="blue",
                      thresholds={"relevant": "high", "borderline": 0.2, "extra": 1},
                      terms={"anchor": [], "topic": {"g": "not a list"}})
    story, problems = stories.parse_story(doc, "stories/bad.toml")
    assert story is None
    assert all(p.startswith("stories/bad.toml: ") for p in problems)
    for key in ("'window_start'", "'colour'", "'thresholds.relevant'", "'thresholds.extra'",
                "'terms.anchor'", "'terms.topic.g'"):
        assert sum(key in p for p in problems) == 1, (key, problems)
    assert any("expected a TOML date" in p for p in problems)


def test_missing_keys_and_inconsistent_values_are_reported() -> None:
    doc = minimal_doc(window_end=date(2025, 1, 1), thresholds={"relevant": 0.3, "borderline": 0.5})
    del doc["name"]
    _, problems = stories.parse_story(doc, "x.toml")
    assert "x.toml: missing key 'name'" in problems
    assert any("'window_end'" in p and "on or after" in p for p in problems)
    assert any("'thresholds.borderline'" in p and "<= thresholds.relevant" in p for p in problems)


def test_story_from_dict_raises_config_error_listing_all_problems() -> None:
    with pytest.raises(ConfigError) as info:
        stories.story_from_dict(minimal_doc(id="Bad Id!", query=3), "stories/demo.toml")
    assert len(info.value.problems) == 2
    assert "stories/demo.toml" in str(info.value)


# ---------------------------------------------------------------- terms

def test_phrases_match_whole_words_across_hyphens_with_prefix_wildcards() -> None:
    rule = stories.TermRule(anchor=("Jack Clark",), topic=(("mech", ("self-improv*", "improv* itself")),))
    hit = st.match_terms(rule, "JACK CLARK on self improvement; the model is improving itself.")
    assert hit.anchor == ("Jack Clark",) and hit.groups == (("mech", ("self-improv*", "improv* itself")),)
    assert hit.rule_met
    miss = st.match_terms(rule, "Jack Clarkson wrote about selfimprovement.")
    assert miss.anchor == () and miss.groups == () and not miss.rule_met


# ---------------------------------------------------------------- scoring

@pytest.mark.parametrize("held_out", range(len(SEEDS)), ids=[s for s, _ in SEEDS])
def test_each_seed_is_relevant_to_a_reference_built_from_the_other_seeds(held_out: int) -> None:
    others = SEEDS[:held_out] + SEEDS[held_out + 1:]
    ref = st.build_reference(default_story(), others)
    result = st.score(ref, title=None, text=SEEDS[held_out][1], published=JUNE_10)
    assert result.decision == "relevant", st.explain(result)
    assert result.nearest_seed in {s for s, _ in others}


def test_outside_the_window_is_not_relevant_but_keeps_its_score() -> None:
    ref = st.build_reference(default_story(), SEEDS[1:])
    text = SEEDS[0][1]
    undated = st.score(ref, title=None, text=text, published=None)
    before = st.score(ref, title=None, text=text, published=datetime(2026, 5, 31, 23, 0, tzinfo=timezone.utc))
    first_day = st.score(ref, title=None, text=text, published=datetime(2026, 6, 1, 0, 0, tzinfo=timezone.utc))
    assert undated.in_window is None and undated.decision == "relevant"
    assert before.in_window is False and before.decision == "not" and "outside window" in before.reasons
    assert before.value == undated.value
    assert first_day.in_window is True and first_day.decision == "relevant"


def test_window_end_is_inclusive_and_dates_are_read_in_utc() -> None:
    story = stories.story_from_dict(minimal_doc(window_end=date(2026, 1, 31)), "demo.toml")
    tz_plus_two = timezone(timedelta(hours=2))
    assert st.in_window(story, datetime(2026, 1, 31, 23, 59, tzinfo=timezone.utc)) is True
    assert st.in_window(story, datetime(2026, 2, 1, 0, 30, tzinfo=timezone.utc)) is False
    # 01:30 on 1 January at UTC+2 is still 31 December in UTC: before the window.
    assert st.in_window(story, datetime(2026, 1, 1, 1, 30, tzinfo=tz_plus_two)) is False


def test_an_unrelated_article_is_not_relevant() -> None:
    ref = st.build_reference(default_story(), SEEDS)
    result = st.score(ref, title="Council approves new cycle lanes",
                      text="The city council voted to build cycle lanes on three main roads.",
                      published=JUNE_10)
    assert result.decision == "not" and result.terms.anchor == () and result.value < 0.2


def test_topic_terms_without_an_anchor_are_not_even_borderline() -> None:
    ref = st.build_reference(default_story(), SEEDS)
    text = ("Researchers debated recursive self-improvement and whether labs should pause or slow "
            "down; one called for a moratorium before models build their own successors.")
    result = st.score(ref, title=None, text=text, published=JUNE_10)
    assert len(result.terms.groups) == 2 and result.terms.anchor == ()
    assert result.decision == "not", st.explain(result)
    with_anchor = st.score(ref, title=None, text=f"Anthropic: {text}", published=JUNE_10)
    assert with_anchor.decision != "not"


def test_scoring_is_deterministic_and_independent_of_seed_order() -> None:
    story = default_story()
    text = SEEDS[2][1]
    a = st.score(st.build_reference(story, SEEDS), title="t", text=text, published=JUNE_10)
    b = st.score(st.build_reference(story, SEEDS), title="t", text=text, published=JUNE_10)
    c = st.score(st.build_reference(story, SEEDS[::-1]), title="t", text=text, published=JUNE_10)
    assert a == b
    assert (c.value, c.decision, c.nearest_seed, c.nearest_similarity) == \
           (a.value, a.decision, a.nearest_seed, a.nearest_similarity)


def test_explain_names_the_matched_terms_and_the_nearest_seed() -> None:
    ref = st.build_reference(default_story(), SEEDS[1:])
    result = st.score(ref, title=None, text=SEEDS[0][1], published=JUNE_10)
    text = st.explain(result)
    assert "RELEVANT" in text and result.nearest_seed in text
    assert "anchor terms: Anthropic" in text
    for group, hits in result.terms.groups:
        assert f"topic {group}: {', '.join(hits)}" in text


def test_keyword_baseline_needs_an_anchor_and_a_topic_phrase() -> None:
    story = default_story()
    hit = st.keyword_baseline(story, title=None, text="Anthropic may pause.", published=JUNE_10)
    no_anchor = st.keyword_baseline(story, title=None, text="The Fed may pause.", published=JUNE_10)
    late = st.keyword_baseline(story, title=None, text="Anthropic may pause.",
                               published=datetime(2026, 5, 1, tzinfo=timezone.utc))
    assert (hit.decision, no_anchor.decision, late.decision) == ("relevant", "not", "not")


# ---------------------------------------------------------------- evaluation

def test_labelled_set_is_well_formed_with_both_labels_in_both_splits() -> None:
    articles = ev.load_labelled(LABELLED)
    assert len(articles) >= 60
    for split in ("dev", "test"):
        labels = {a.relevant for a in articles if a.split == split}
        assert labels == {True, False}
    assert all(a.title and a.text for a in articles)


def test_labels_file_problems_name_the_article_and_key(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Headline\nBody.", encoding="utf-8")
    (tmp_path / "labels.toml").write_text(
        '[[article]]\nfile = "a.txt"\nstory = "s"\nlabel = "yes"\nsplit = "dev"\n'
        '[[article]]\nfile = "gone.txt"\nstory = "s"\nlabel = "not"\nsplit = "train"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        ev.load_labelled(tmp_path)
    problems = info.value.problems
    assert any("article #1" in p and "'label'" in p for p in problems)
    assert any("article #2" in p and "'split'" in p for p in problems)
    assert any("article #2" in p and "no such file" in p for p in problems)


def test_on_the_test_split_the_scorer_beats_the_keyword_baseline() -> None:
    """Floor 0.85: measured F1 was 0.97 (1 miss in 37), so 0.85 leaves room for about three
    more mistakes before failing, yet sits above the keyword baseline's measured 0.83."""
    results = ev.evaluate([default_story()], LABELLED, config_dir=CONFIG, split="test")
    by_method = {r.method: r for r in results}
    method, baseline = by_method["tfidf+terms"], by_method["keyword"]
    n = method.tp + method.fp + method.fn + method.tn
    assert n == baseline.tp + baseline.fp + baseline.fn + baseline.tn >= 30
    assert method.f1 >= 0.85, ev.format_eval(results, show_mistakes=True)
    assert method.f1 > baseline.f1
    assert method.precision > baseline.precision


def test_format_eval_prints_one_row_per_story_and_method() -> None:
    results = ev.evaluate([default_story()], LABELLED, config_dir=CONFIG, split="dev")
    lines = ev.format_eval(results).splitlines()
    assert lines[0].split()[:3] == ["story", "method", "split"]
    rows = [line for line in lines[2:] if line.startswith("rsi-pause")]
    assert [r.split()[1] for r in rows] == ["tfidf+terms", "keyword"]
    assert all(r.split()[2] == "dev" for r in rows)


# ---------------------------------------------------------------- counter-examples

COUNTERS = ev.reference_seeds(ROOT / "config" / "counter-examples" / "rsi-pause")


def test_counter_reference_is_an_optional_string_key() -> None:
    story, problems = stories.parse_story(minimal_doc(counter_reference="near-misses"), "s.toml")
    assert problems == [] and story is not None and story.counter_reference == "near-misses"
    assert stories.parse_story(minimal_doc(), "s.toml")[0].counter_reference is None
    _, problems = stories.parse_story(minimal_doc(counter_reference=3), "s.toml")
    assert any("'counter_reference'" in p for p in problems)


def test_an_article_nearer_a_counter_example_than_any_seed_loses_score() -> None:
    """A neighbouring story (here: one of the counter-examples itself, reworded slightly)
    scores lower once the counter-examples are known, and explain names the nearest one."""
    name, text = next((n, t) for n, t in COUNTERS if n == "clark-2028-forecast.txt")
    near_miss = text.replace("Import AI newsletter", "weekly newsletter")
    plain = st.score(st.build_reference(default_story(), SEEDS), title=None, text=near_miss,
                     published=JUNE_10)
    ref = st.build_reference(default_story(), SEEDS, counters=COUNTERS)
    weighed = st.score(ref, title=None, text=near_miss, published=JUNE_10)
    assert weighed.nearest_counter == name and weighed.counter_similarity > weighed.nearest_similarity
    assert weighed.value < plain.value
    assert f"nearest counter-example: {name}" in st.explain(weighed)


def test_counter_examples_leave_an_article_about_the_story_alone() -> None:
    """A seed held out of the reference is nearer the other seeds than any counter-example,
    so the counter-examples take nothing from it: it stays relevant."""
    held_out = SEEDS[0][1]
    ref = st.build_reference(default_story(), SEEDS[1:], counters=COUNTERS)
    result = st.score(ref, title=None, text=held_out, published=JUNE_10)
    assert result.counter_similarity < result.nearest_similarity
    assert result.decision == "relevant"


def test_phrase_shortcuts_find_what_the_pattern_search_finds() -> None:
    """``scorer._occurs`` (substring tests, then the pattern anchored where the phrase's
    first word occurs) agrees with searching the whole text with the phrase's pattern,
    including words inside other words, prefixes with *, and multi-word phrases."""
    import random

    from pipeline.config.stories import norm_text
    from pipeline.story import scorer

    rng = random.Random(4)
    vocab = ["ai", "said", "pause", "paused", "pausing", "self", "improvement", "self-improvement", "anthropic",
             "anthropics", "frontier", "x", "maintain", "jack", "clark", "jackclark"]
    phrases = ["ai", "pause*", "self improvement", "self-improvement", "anthropic", "jack clark", "x", "frontier ai",
               "paus* frontier", "clark"]
    for _ in range(300):
        text = norm_text(" ".join(rng.choice(vocab) for _ in range(rng.randrange(0, 12))))
        for phrase in phrases:
            assert scorer._occurs(phrase, text) == (scorer._pattern(phrase).search(text) is not None), (phrase, text)
