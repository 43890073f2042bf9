"""Issue 11, copies through `newswatch run` on a loopback newsroom made for them: nested
excerpts and a page carrying a window of a report join it, an outlet's template text
does not make its pages copies, and a roundup reproducing two short items whole does not
chain their clusters.

The newsroom's folder is generated here from the texts written for tests/data/newsroom.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from newsroom import DATA_DIR, Newsroom
from test_story_pipeline import article_ids, newswatch, rows

OUTLETS = ("wire", "digest", "bulletin", "mirror", "roundup")
# What the "bulletin" outlet prints inside every article body: its own furniture.
FURNITURE = (
    "About this bulletin: the Lakeshore Bulletin is written by a small team of volunteers "
    "who read the council minutes, the court lists and the planning register every week so "
    "that readers do not have to. We are funded by readers and accept no advertising from "
    "the companies we cover.\n"
    "Corrections policy: if we got something wrong, write to the editors and we will fix "
    "it within one working day, with a note at the foot of the story saying what changed "
    "and when. Letters for publication should be under three hundred words and carry a "
    "full name and a neighbourhood.\n"
    "Support independent local reporting: a monthly contribution of any size keeps the "
    "bulletin free to read for everyone in the valley, and supporters get the weekly "
    "newsletter one day early."
)


def paragraphs(name: str) -> list[str]:
    lines = [line.strip() for line in (DATA_DIR / "articles" / f"{name}.txt").read_text("utf-8").splitlines()]
    return [line for line in lines if line]


def short_item(name: str, words: int = 70) -> list[str]:
    """The first paragraphs of a written test article, about ``words`` words."""
    body, kept = paragraphs(name)[1:], []
    while sum(len(p.split()) for p in kept) < words:
        kept.append(body[len(kept)])
    return kept


def build(folder: Path) -> Path:
    """manifest.toml, articles/ and templates/ of the copies newsroom."""
    (folder / "articles").mkdir(parents=True)
    (folder / "templates").mkdir()
    shutil.copy(DATA_DIR / "templates" / "regional.html", folder / "templates" / "regional.html")
    texts = {
        "report": paragraphs("harbor-rsi-explainer"),
        "item-x": ["Quarry council pauses the extension vote"] + short_item("quarry-pause-council"),
        "item-y": ["Central bank holds rates again"] + short_item("fintech-rates-hold"),
        "roundup": ["The week in brief", "Here is what our readers followed this week."]
                   + short_item("quarry-pause-council") + short_item("fintech-rates-hold")
                   + ["That is all for this week; the next roundup comes on Friday."],
    }
    # a page carrying a window of the report (a middle passage) inside its own commentary
    texts["window"] = (["What the explainer gets right"] + paragraphs("meridian-pause-essay")[1:4]
                       + texts["report"][6:10] + paragraphs("meridian-pause-essay")[4:6])
    for n, name in enumerate(("escooter-pause", "ereader-column", "united-promotion", "2nm-laptop-chip")):
        source = next(p for p in (DATA_DIR / "articles").glob(f"*{name}.txt"))
        texts[f"bulletin-{n}"] = [f"Bulletin item {n}"] + short_item(source.stem, 60) + FURNITURE.split("\n")
    for name, lines in texts.items():
        (folder / "articles" / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    articles = [
        ("report", "wire", "report", None), ("excerpt-3", "digest", "report", 3), ("excerpt-5", "mirror", "report", 5),
        ("item-x", "wire", "item-x", None), ("item-x-copy", "mirror", "item-x", 0),
        ("item-y", "digest", "item-y", None), ("item-y-copy", "mirror", "item-y", 0),
        ("roundup", "roundup", "roundup", None), ("bulletin-0-copy", "mirror", "bulletin-0", 2),
        ("window", "roundup", "window", None),
    ] + [(f"bulletin-{n}", "bulletin", f"bulletin-{n}", None) for n in range(4)]
    (folder / "manifest.toml").write_text(_manifest(articles), encoding="utf-8")
    return folder


def _manifest(articles: list[tuple[str, str, str, int | None]]) -> str:
    out = []
    for slug in OUTLETS:
        out += ["[[outlet]]", f'slug = "{slug}"', f'name = "The {slug.title()}"', f'domain = "{slug}.test"',
                'lang = "en"', 'template = "regional"', "",
                "[[feed]]", f'id = "{slug}-rss"', f'outlet = "{slug}"', 'path = "feed.xml"', 'format = "rss"',
                f'title = "{slug}"', ""]
    for day, (slug, outlet, text, keep) in enumerate(articles, start=1):
        out += ["[[article]]", f'slug = "{slug}"', f'outlet = "{outlet}"', f'path = "2026/06/{slug}.html"',
                f"published = 2026-06-{day:02d}T09:00:00Z", 'author = "Staff"', 'section = "news"',
                "on_topic = false"]
        if keep is None:
            out += [f'file = "{text}.txt"']
        else:  # a copy: its first ``keep`` paragraphs (0: all), under its own headline
            out += [f'copy_of = "{text}"', f'title = "{slug.replace("-", " ").title()} of the week"']
            out += [f"keep_paragraphs = {keep}"] if keep else []
        out.append("")
    return "\n".join(out)


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("copies")
    with Newsroom(build(tmp / "room")) as room:
        config = room.write_config(tmp / "config", tmp / "newswatch.duckdb")
        result = newswatch(config, "run", "--all")
        assert result.returncode == 0, result.stderr
        ids = article_ids(room, tmp / "newswatch.duckdb")
    assert len(ids) == 14
    found = dict(rows(tmp / "newswatch.duckdb", "SELECT article_id, cluster_id FROM clusters"))
    return {slug: found[aid] for slug, aid in ids.items()}


def test_nested_excerpts_join_their_report(clusters):
    assert clusters["excerpt-3"] == clusters["excerpt-5"] == clusters["report"]


def test_a_window_of_a_report_on_another_outlet_joins_it(clusters):
    assert clusters["window"] == clusters["report"]


def test_outlet_template_text_does_not_make_copies(clusters):
    bulletins = [clusters[f"bulletin-{n}"] for n in range(4)]
    assert len(set(bulletins)) == 4
    # a real copy of one of them elsewhere is still found, template or not
    assert clusters["bulletin-0-copy"] == clusters["bulletin-0"]


def test_a_roundup_does_not_chain_two_clusters(clusters):
    assert clusters["item-x"] == clusters["item-x-copy"]
    assert clusters["item-y"] == clusters["item-y-copy"]
    assert clusters["item-x"] != clusters["item-y"]
