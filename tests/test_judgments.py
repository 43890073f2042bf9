"""Issue 11, corrections that teach: `newswatch label` through the real command.

A person's judgment decides the article's stored decision, so every story view and the
digest follow it; it survives `rescore` (which fetches nothing) and a re-extraction; the
judged articles join the examples; `eval --judged` measures the scorer against them.
One ingest of the loopback newsroom is shared by the module; the tests build on it in order.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import Site, make_site, rows, set_setting
from newsroom import Newsroom

from pipeline.content import fingerprint as fp


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory):
    """The newsroom ingested, one relevant article judged not and one off-topic judged relevant."""
    with Newsroom() as room:
        site = make_site(room, tmp_path_factory.mktemp("judged"))
        assert site.run("run", "--all").returncode == 0
        copied = {a.copy_of for a in room.live_articles() if a.copy_of}
        on = next(a for a in room.live_articles() if a.on_topic and not a.copy_of and not a.is_seed
                  and a.slug not in copied)
        off = next(a for a in room.live_articles() if not a.on_topic)
        before = {"on": _counted(site, on.path), "off": _counted(site, off.path)}
        no = site.run("label", room.url(on.path), "--not", "--note", "a neighbour story", "--by", "ada")
        yes = site.run("label", room.url(off.path), "--relevant", "--by", "ada")
        assert no.returncode == 0 and yes.returncode == 0, no.stderr + yes.stderr
        yield site, on, off, before, no.stdout


def _id(site: Site, path: str) -> str:
    return rows(site.warehouse, "SELECT article_id FROM article_urls WHERE url_key = ?",
                [fp.canonical_url(site.room.url(path))])[0][0]


def _counted(site: Site, path: str) -> bool:
    return bool(rows(site.warehouse, "SELECT 1 FROM story_articles WHERE article_id = ?", [_id(site, path)]))


def _digest(site: Site, tmp: Path) -> str:
    out = tmp / "digest.eml"
    # today's digest, due at the end of the day in UTC: its window ends now, after the run
    set_setting(site.config, "digest", "timezone", "UTC")
    set_setting(site.config, "digest", "time", "23:59")
    result = site.run("digest", "--date", datetime.now(timezone.utc).date().isoformat(), "--to", str(out))
    assert result.returncode == 0, result.stderr
    return out.with_suffix(".html").read_text(encoding="utf-8")


def test_a_judgment_moves_the_article_in_and_out_of_the_views_and_the_digest(judged, tmp_path):
    site, on, off, before, said = judged
    assert before == {"on": True, "off": False}
    assert (_counted(site, on.path), _counted(site, off.path)) == (False, True)
    digest = _digest(site, tmp_path)
    assert site.room.url(off.path) in digest and site.room.url(on.path) not in digest
    assert "stored decision: not" in said
    history = rows(site.warehouse, "SELECT label, judged_by, note FROM judgments ORDER BY judgment_id")
    assert history == [("not", "ada", "a neighbour story"), ("relevant", "ada", None)]


def test_explain_shows_the_judgment_and_the_scorers_own_view(judged):
    site, on, _, _, _ = judged
    out = site.run("explain", site.room.url(on.path))
    assert out.returncode == 0, out.stderr
    assert "story rsi-pause: NOT" in out.stdout
    assert "judged not by ada at" in out.stdout and "the scorer says relevant" in out.stdout


def test_judgments_hold_after_rescore_and_reextract_without_fetching(judged):
    site, on, off, _, _ = judged
    site.room.clear_requests()
    assert site.run("rescore").returncode == 0
    assert site.room.requests == [], "rescore must not fetch anything"
    assert (_counted(site, on.path), _counted(site, off.path)) == (False, True)
    again = site.run("reextract")
    assert again.returncode == 0, again.stderr
    assert site.room.requests == []
    assert (_counted(site, on.path), _counted(site, off.path)) == (False, True)
    relabelled = site.run("label", site.room.url(on.path), "--relevant", "--by", "bob")
    assert relabelled.returncode == 0, relabelled.stderr
    assert _counted(site, on.path), "the latest judgment wins"
    assert rows(site.warehouse, "SELECT count(*) FROM judgments")[0][0] == 3


def test_eval_judged_prints_scorer_and_keyword_figures(judged):
    site, _, _, _, _ = judged
    out = site.run("eval", "--judged", "--json")
    assert out.returncode == 0, out.stderr
    results = {r["method"]: r for r in json.loads(out.stdout)}
    assert set(results) == {"tfidf+terms", "keyword"}
    for r in results.values():
        assert r["tp"] + r["fp"] + r["fn"] + r["tn"] == 2 and r["split"] == "judged"
    # the off-topic page judged relevant is missed by both: the scorer is measured, not the judgment
    assert results["tfidf+terms"]["fn"] >= 1
    table = site.run("eval", "--judged")
    assert "precision" in table.stdout and "keyword" in table.stdout


def test_an_unknown_url_or_story_is_a_usage_error(judged):
    site, on, _, _, _ = judged
    missing = site.run("label", site.room.url("/nowhere/at/all.html"), "--not")
    assert missing.returncode == 2 and "no article known" in missing.stderr
    wrong = site.run("label", site.room.url(on.path), "--not", "--story", "no-such-story")
    assert wrong.returncode == 2 and "no-such-story" in wrong.stderr
    neither = site.run("label", site.room.url(on.path))
    assert neither.returncode == 2


def test_judged_articles_join_the_examples(judged):
    """Judged relevant, an article becomes a seed others are measured against; judged not,
    a counter-example; never its own example. (Runs after the test above relabelled it.)"""
    site, on, _, _, _ = judged
    example = f"judged {site.room.url(on.path)}"
    assert site.run("rescore").returncode == 0
    near = [r[0] for r in rows(site.warehouse, "SELECT article_id FROM story_scores WHERE nearest_seed = ?",
                               [example])]
    assert near and _id(site, on.path) not in near
    assert site.run("label", site.room.url(on.path), "--not", "--by", "ada").returncode == 0
    url = rows(site.warehouse, "SELECT url FROM articles WHERE article_id = ?", [near[0]])[0][0]
    out = site.run("explain", url)
    assert f"nearest counter-example: {example}" in out.stdout, out.stdout
    own = site.run("explain", site.room.url(on.path)).stdout
    assert example not in own


def test_a_judgment_given_while_the_page_failed_holds_when_the_page_is_fetched_again(site):
    """The page of an on-topic article answers 503, a person judges it not relevant from its
    URL; the next run fetches it again, reads its text and scores it: the judgment decides."""
    room = site.room
    feed = next(f for f in room.feeds if f.etag or f.last_modified)
    article = next(room.article(s) for s in feed.slugs
                   if room.article(s).on_topic and not room.article(s).redirect and not room.article(s).is_seed)
    original = room.route(article.path)
    room.set_route(article.path, status=503, body=b"busy")
    assert site.run("run", "--all").returncode == 0
    assert rows(site.warehouse, "SELECT status FROM articles WHERE article_id = ?",
                [_id(site, article.path)]) == [("failed",)]
    assert site.run("label", room.url(article.path), "--not", "--by", "ada").returncode == 0
    room.set_route(article.path, original)
    room.clear_requests()
    assert site.run("run", "--all").returncode == 0
    assert room.requests_for(article.path), "the failed page is fetched again"
    decided = rows(site.warehouse, "SELECT a.status, s.decision FROM articles a JOIN story_scores s "
                   "USING (article_id) WHERE a.article_id = ?", [_id(site, article.path)])
    assert decided == [("extracted", "not")]
    assert not _counted(site, article.path)
    assert "the scorer says relevant" in site.run("explain", room.url(article.path)).stdout
