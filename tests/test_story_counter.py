"""Counter-examples read closely: passages, and the phrases a story shares with its neighbours.

A small story written for these tests ("Acme recalls its toasters after kitchen fires")
with three seeds and one counter-example (a neighbouring Acme story: a shareholder revolt,
whose text also says "fire"). Everything is generated here; no labelled set is involved.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest

from pipeline.config import stories
from pipeline.story import scorer as st

WHEN = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)

SEEDS = [
    ("s1", "Acme recalls toasters after kitchen fires. Acme said it would recall two million "
           "toasters after a faulty heating element caused kitchen fires in several homes. "
           "Owners should unplug the toaster and ask for a refund, the product safety "
           "regulator said."),
    ("s2", "Toaster recall: Acme heating element blamed for blaze. The product safety regulator "
           "ordered Acme to recall the toaster models after a heating element overheated and "
           "started a kitchen blaze. Customers will get a refund or a replacement toaster."),
    ("s3", "Acme's toaster recall widens. The recall now covers every toaster model with the "
           "faulty heating element, Acme said, after more kitchen fires were reported to the "
           "product safety regulator. Refunds are available in stores."),
]
REVOLT = ("Shareholders in Acme demanded a vote to fire the chief executive over his pay package "
          "at the annual meeting. Investors said the board had ignored the pension funds, and "
          "proxy advisers urged shareholders to fire two directors as well. The annual meeting "
          "will vote on executive pay, board seats and a dividend cut, and activist investors "
          "said the shareholder revolt over pay would continue.")
COUNTERS = [("revolt", REVOLT)]


def story() -> stories.StoryDef:
    doc = {"id": "toasters", "name": "Acme toaster recall", "window_start": date(2026, 1, 1),
           "reference": "seeds", "counter_reference": "counters",
           "terms": {"anchor": ["Acme"], "topic": {"recall": ["recall*"], "fire": ["fire*", "blaze"]}},
           "thresholds": {"relevant": 0.54, "borderline": 0.4}}
    return stories.story_from_dict(doc, "stories/toasters.toml")


def reference() -> st.Reference:
    return st.build_reference(story(), SEEDS, counters=COUNTERS)


def test_passages_gather_sentences_to_the_word_count_and_keep_a_short_tail() -> None:
    text = "One two three. Four five six seven!\nEight nine? Ten"
    assert st.passages(text, 3) == ["One two three.", "Four five six seven!", "Eight nine? Ten"]
    assert st.passages(text, 4) == ["One two three. Four five six seven! Eight nine? Ten"]
    assert st.passages(text, 7) == ["One two three. Four five six seven! Eight nine? Ten"]
    assert st.passages("no sentence ends here", 2) == ["no sentence ends here"]
    assert st.passages("", 2) == []


def test_counter_example_phrases_are_recorded_per_counter_example() -> None:
    ref = reference()
    assert ref.counter_ids == ("revolt",)
    assert ref.counter_phrases == (frozenset({"fire*"}),)


def test_a_neighbour_matching_only_shared_phrases_gets_less_term_evidence() -> None:
    """The revolt, reworded, matches the "fire" group only through "fire", which the
    counter-example has too: that group counts less than it would without the counter's
    phrases, and explain says so. The lexical half is the same either way."""
    article = REVOLT.replace("annual meeting", "yearly meeting")
    ref = reference()
    weighed = st.score(ref, title=None, text=article, published=WHEN)
    blind = st.score(replace(ref, counter_phrases=()), title=None, text=article, published=WHEN)
    assert [g for g, _ in weighed.terms.groups] == ["fire"]
    assert weighed.nearest_counter == "revolt" and weighed.counter_similarity > weighed.nearest_similarity
    assert weighed.value < blind.value
    assert any("topic group(s) fire found only in phrases that counter-example has too" in r
               for r in weighed.reasons)
    assert weighed.decision == "not"


def test_an_own_phrase_keeps_the_group_whole() -> None:
    """"blaze" is the story's phrase, not the counter-example's: a group found with it
    counts in full even when the article is nearer the counter-example."""
    article = REVOLT.replace("annual meeting", "yearly meeting") + " A blaze of criticism followed."
    ref = reference()
    weighed = st.score(ref, title=None, text=article, published=WHEN)
    blind = st.score(replace(ref, counter_phrases=()), title=None, text=article, published=WHEN)
    assert weighed.counter_similarity > weighed.nearest_similarity
    assert weighed.value == blind.value


def test_a_piece_on_the_neighbour_and_the_story_keeps_its_passage_about_the_story(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Most of the piece is the revolt, so the whole piece is nearer the counter-example
    than any seed; its last passage is the recall, nearer the seeds. Read passage by passage
    it is relevant; read as one block (passages as long as the piece) it is not."""
    recall = ("Separately, Acme said it would recall more toasters after a faulty heating element "
              "caused kitchen fires in several homes. The product safety regulator said owners "
              "should unplug each toaster at once and ask for a refund or a replacement toaster. "
              "The recall covers every model with the heating element, and stores will take the "
              "toasters back. Acme said no one was hurt in the kitchen fires and apologised to "
              "customers.")
    article = REVOLT + "\n" + REVOLT.replace("Acme", "the company") + "\n" + recall
    ref = reference()
    split = st.score(ref, title="Acme's difficult week", text=article, published=WHEN)
    assert split.counter_similarity > split.nearest_similarity
    assert split.decision == "relevant"
    assert any("one passage is nearer the seeds" in r for r in split.reasons)
    monkeypatch.setattr(st, "PASSAGE_WORDS", 10_000)
    whole = st.score(ref, title="Acme's difficult week", text=article, published=WHEN)
    assert whole.value < split.value and whole.decision != "relevant"


def test_the_neighbour_alone_is_not_rescued_by_its_passages() -> None:
    """No passage of the revolt itself is nearer the seeds: it stays not relevant."""
    article = REVOLT + "\n" + REVOLT.replace("Acme", "the company")
    result = st.score(reference(), title=None, text=article, published=WHEN)
    assert result.decision == "not"
    assert not any("one passage is nearer the seeds" in r for r in result.reasons)
