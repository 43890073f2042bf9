"""The story commands of the command line: ``explain``, ``rescore``, ``label``, ``eval``.

Thin like the rest of ``cli``: parse, call one library function, print.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.content import fingerprint as fp
from pipeline.errors import ConfigError, StoreError
from pipeline.story import scorer as story_mod


def _args_explain(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="the article's URL (any link that led to it, or its canonical URL)")
    p.add_argument("--story", metavar="ID", help="only this story")


def cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.store import open_reader
    from pipeline.story.decisions import references, score_article

    store = open_reader(settings.warehouse_path, settings.warehouse_memory_limit)
    try:
        article = store.find_article(args.url, _url_key(args.url))
        if article is None:
            raise StoreError(f"no article known for {args.url}",
                             remedy="newswatch only knows pages its sources listed; see `newswatch query "
                                    "\"select url from articles\"`")
        stored = store.stored_scores(article["article_id"])
        members = store.cluster_members(article["article_id"])
        sightings = store.sightings_of(article["article_id"])
        refs = references(settings, store)
    finally:
        store.close()
    print(_describe(article, sightings))
    for story_id, ref in refs.items():
        if args.story and story_id != args.story:
            continue
        print()
        print(_explain_story(story_id, ref, article, stored.get(story_id), score_article))
    print()
    print(_describe_cluster(article["article_id"], members))
    return 0


def _url_key(url: str) -> str:
    try:
        return fp.canonical_url(url)
    except ValueError:
        return url


def _describe(a: dict[str, Any], sightings: list[tuple]) -> str:
    lines = [f"article {a['article_id']}: {a.get('title') or '(no title)'}",
             f"  outlet: {a.get('outlet_name') or '(unknown)'}    status: {a['status']}"
             + (f" ({a['fail_reason']})" if a.get("fail_reason") else ""),
             f"  url: {a['url']}",
             f"  published: {a.get('published_at') or '(no date on the page)'}    first seen: {a['first_seen_at']}",
             f"  words: {a.get('word_count') or 0}    reference article: {'yes' if a.get('is_reference') else 'no'}"]
    for source_id, kind, seen in sightings:
        lines.append(f"  seen by {source_id} ({kind or 'reference'}) at {seen}")
    return "\n".join(lines)


def _explain_story(story_id: str, ref: Any, article: dict[str, Any], stored: dict[str, Any] | None,
                   score_article: Any) -> str:
    if article["status"] not in ("extracted", "reference") or not article.get("body"):
        return f"story {story_id}: not scored (no extracted text: status {article['status']})"
    now = score_article(ref, article)
    text = story_mod.explain(now)
    if stored is None:
        return text + "\n  (not stored yet: the next run or `newswatch rescore` stores it)"
    if stored["decision"] != now.decision:
        text += (f"\n  stored decision differs: {stored['decision']} (score {stored['score']:.2f}); "
                 "the story's configuration changed since: run `newswatch rescore`")
    return text


def _describe_cluster(article_id: str, members: list[dict[str, Any]]) -> str:
    if len(members) <= 1:
        return "copies: none found (its own cluster)"
    lines = [f"cluster of {len(members)} articles (origin first):"]
    for m in members:
        role = "origin" if m["is_origin"] else "copy  "
        me = "  <- this article" if m["article_id"] == article_id else ""
        lines.append(f"  {role} {m['outlet'] or '(unknown)'}: {m['title'] or m['url']}{me}")
    return "\n".join(lines)


def _args_rescore(p: argparse.ArgumentParser) -> None:
    p.add_argument("--story", metavar="ID", help="only this story (default: every story)")
    p.add_argument("--duplicates", action="store_true",
                   help="also recheck every near-duplicate link (after changing the dedup rules)")


def cmd_rescore(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.jobs import rescore

    try:
        result = rescore(settings, datetime.now(timezone.utc), story_id=args.story,
                         redo_duplicates=args.duplicates)
    except KeyError:
        raise ConfigError([f"--story {args.story!r}: no story with that id in "
                           f"{settings.config_dir / 'stories'}"]) from None
    print(f"rescored {result['scored']} article decisions; {result['dup_links']} new duplicate links; "
          f"{result['clusters']} clusters of copies")
    return 0


def _args_label(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="the article's URL (any link that led to it, or its canonical URL)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--relevant", dest="label", action="store_const", const="relevant",
                       help="the article is about the story")
    which.add_argument("--not", dest="label", action="store_const", const="not",
                       help="the article is not about the story")
    p.add_argument("--story", metavar="ID", help="the story judged (needed when several are configured)")
    p.add_argument("--note", metavar="TEXT", help="why, in a few words (kept with the judgment)")
    p.add_argument("--by", metavar="NAME", help="who judges (default: $USER)")


def cmd_label(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.jobs import label

    story_id = _one_story(settings, args.story)
    by = args.by or os.environ.get("USER") or getpass.getuser()
    done = label(settings, datetime.now(timezone.utc), args.url, _url_key(args.url), story_id=story_id,
                 label=args.label, judged_by=by, note=args.note)
    article, score = done["article"], done["score"]
    print(f"judged {args.label} for {story_id} by {by}: {article.get('title') or article['url']}")
    if score is not None:
        print(f"  stored decision: {score['decision']}; the scorer's own score {score['score']:.2f}")
    print("  other articles are weighed against this example at their next scoring: `newswatch rescore`")
    return 0


def _one_story(settings: Settings, story_id: str | None) -> str:
    ids = [s.id for s in settings.stories]
    if story_id is None and len(ids) == 1:
        return ids[0]
    if story_id in ids:
        return story_id
    wanted = "--story ID is needed" if story_id is None else f"--story {story_id!r}: no story with that id"
    raise ConfigError([f"{wanted} (stories: {', '.join(ids) or 'none'})"])


def _args_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labelled", metavar="DIR",
                   help="labelled set (default: tests/data/labelled beside the config folder)")
    p.add_argument("--split", choices=("dev", "test", "all"), default="test", help="which half to measure")
    p.add_argument("--mistakes", action="store_true", help="list the articles decided wrongly")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--judged", action="store_true",
                   help="measure against every judgment recorded by `newswatch label` instead")
    p.add_argument("--story", metavar="ID", help="with --judged: only this story")


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.story.evaluate import evaluate

    if args.judged:
        return _eval_judged(args, settings)
    folder = Path(args.labelled) if args.labelled else settings.config_dir.parent / "tests" / "data" / "labelled"
    if not (folder / "labels.toml").exists():
        raise ConfigError([f"labelled set not found: {folder / 'labels.toml'} (use --labelled DIR)"])
    results = evaluate(list(settings.stories), folder, config_dir=settings.config_dir, split=args.split)
    return _print_results(args, results)


def _eval_judged(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.store import open_reader
    from pipeline.story.decisions import evaluate_judged, references

    wanted = _one_story(settings, args.story) if args.story or len(settings.stories) == 1 else None
    store = open_reader(settings.warehouse_path, settings.warehouse_memory_limit)
    try:
        refs = references(settings, store)
    finally:
        store.close()
    results = [r for sid, ref in refs.items() if wanted in (None, sid) for r in evaluate_judged(ref)]
    return _print_results(args, results)


def _print_results(args: argparse.Namespace, results: list[Any]) -> int:
    from pipeline.story.evaluate import format_eval

    if args.json:
        print(json.dumps([_result_dict(r) for r in results], indent=2))
    else:
        print(format_eval(results, show_mistakes=args.mistakes))
    return 0


def _result_dict(r: Any) -> dict[str, Any]:
    return {"story": r.story_id, "method": r.method, "split": r.split, "precision": round(r.precision, 4),
            "recall": round(r.recall, 4), "f1": round(r.f1, 4), "tp": r.tp, "fp": r.fp, "fn": r.fn, "tn": r.tn}


STORY_COMMANDS = {
    "explain": (cmd_explain, "show why an article was or was not counted for each story",
                "newswatch explain https://example.org/2026/06/05/anthropic-pause", _args_explain),
    "rescore": (cmd_rescore, "recompute every story decision (and clusters) without fetching",
                "newswatch rescore --story rsi-pause", _args_rescore),
    "label": (cmd_label, "record a person's judgment of an article for a story (kept in every view)",
              "newswatch label https://example.org/2026/06/05/anthropic-pause --not --note 'NSA story'",
              _args_label),
    "eval": (cmd_eval, "measure the story scorer on a labelled set: precision, recall, F1",
             "newswatch eval --split test --mistakes", _args_eval),
}
