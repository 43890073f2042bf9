"""``newswatch reextract``: read archived pages again with today's extractor and rules.

Nothing is fetched. For every article whose page is in the archive (optionally first seen
since a date, or listed by one source), the response record is read back from its WARC
file and offset and given to the extractor with the same facts the fetch path gives it
(response headers, the earliest feed date and a feed title of its sightings). Rows are
written in chunks, each one transaction of set-based statements: article facts,
fingerprints, the scores of changed articles (dropped, so the next analysis recomputes
them) and their near-duplicate links (dropped, ``dedup_at`` cleared). The caller runs the
analysis afterwards (``jobs.reextract``).

An archived page that no longer yields an article becomes ``failed`` with the new reason; a
failed one that now yields an article becomes ``extracted``. Article ids and canonical URLs
are kept: they are the keys other tables use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.content import fingerprint as fp
from pipeline.content.archive import read_response
from pipeline.content.extract import provenance_columns
from pipeline.errors import ExtractError
from pipeline.models import Article
from pipeline.store import Batch, Store

CHUNK = 200  # articles per transaction
TRANSIENT = ("timeout", "crashed")  # ExtractError reasons that say nothing about the page


@dataclass(frozen=True)
class ReextractReport:
    considered: int
    extracted: int
    failed: int
    missing: int  # archive record unreadable (file gone or damaged)
    skipped: int = 0  # extraction timed out or crashed: the stored facts were kept


def reextract(store: Store, extract: Callable[..., Article], folder: Path, now: datetime,
              since: datetime | None = None, source_id: str | None = None) -> ReextractReport:
    rows = store.archived_articles(since, source_id)
    counts = {"extracted": 0, "failed": 0, "missing": 0, "skipped": 0}
    for start in range(0, len(rows), CHUNK):
        batch = Batch()
        for row in rows[start:start + CHUNK]:
            counts[_redo(row, extract, folder, now, batch)] += 1
        _save(store, batch)
    return ReextractReport(len(rows), **counts)


def _redo(row: dict[str, Any], extract: Callable[..., Article], folder: Path, now: datetime,
          batch: Batch) -> str:
    try:
        page = read_response(folder / row["warc_file"], int(row["warc_offset"]))
    except (OSError, ValueError, EOFError) as exc:
        print(f"reextract: {row['url']}: archived page unreadable: {exc}")
        return "missing"
    keys = {"article_id": row["article_id"], "canonical_url": row["canonical_url"], "url": row["url"],
            "first_seen_at": row["first_seen_at"], "updated_at": now}
    try:
        article = extract(page.body, page.url, page.headers, row["feed_date"], row["feed_title"])
    except ExtractError as exc:
        if exc.reason in TRANSIENT:  # the extractor's limit, not the page: keep what is stored
            print(f"reextract: {row['url']}: {exc}; left as it was")
            return "skipped"
        batch.articles.append({**keys, "status": "failed", "fail_reason": f"extract/{exc.reason}: {exc}"[:500],
                               "fail_transient": False, "body": None, "content_hash": None})
        batch.rescore.append(row["article_id"])
        return "failed"
    print_ = fp.fingerprint(article.text)
    batch.articles.append({**keys, **_facts(article, print_)})
    batch.fingerprints.append((row["article_id"], list(print_.minhash), list(print_.bands)))
    batch.rescore.append(row["article_id"])
    return "extracted"


def _facts(article: Article, print_: fp.Fingerprint) -> dict[str, Any]:
    return {
        "status": "extracted", "fail_reason": None, "title": article.title, "author": article.author,
        "published_at": article.published, "site_name": article.site_name, "language": article.language,
        "description": article.description, "body": article.text, "content_hash": print_.content_hash,
        "word_count": print_.word_count, "dedup_at": None, **provenance_columns(article),
    }


def _save(store: Store, batch: Batch) -> None:
    if batch.articles:
        batch.relink = list(batch.rescore)  # texts changed: their near-duplicate links go too
        store.save_batch(batch)
