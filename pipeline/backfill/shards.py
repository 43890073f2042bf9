"""The shard folder shared by the coordinator and every worker.

    <root>/pages/source=<outlet>/month=<YYYY-MM>/<warc key>_<i>.parquet   rows of one file
    <root>/pages/source=.../month=.../~compact-<hex>.parquet              merged by `compact`
    <root>/manifest/<warc key>.json                                        the file is done
    <root>/.work/<warc key>.<pid>.<hex>/                                   a file in progress
    <root>/schema/source=~none/month=~none/~schema.parquet                 no rows, every column

A file's shards are written under ``.work`` first and moved into place, then its manifest
is written; a file without a manifest is read again from the start, and because shard
names follow from the file's key alone, a second reading replaces the shards of a first
one cut short instead of adding to them. Every row carries its ``warc_key``, so the loader
takes exactly the rows of finished files, wherever compaction has put them.
``store.parquet`` writes the files (hive partitioning by source and month).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.store import parquet

PAGES, MANIFEST, WORK, SCHEMA = "pages", "manifest", ".work", "schema"
COMPACT_PREFIX = "~compact-"
JOURNAL = ".compacting.json"
PROGRESS = "progress.json"


def warc_key(path: Path) -> str:
    """A file's identity: its name and size, so the same archive under another mount
    point (another machine of a cluster) is the same file."""
    size = path.stat().st_size
    digest = hashlib.sha1(f"{path.name}\0{size}".encode()).hexdigest()[:12]
    return f"{_safe(path.name)[:60]}-{digest}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-.") or "x"


def shard_glob(root: Path) -> str:
    return str(root / PAGES / "**" / "*.parquet")


def layout(root: Path) -> dict[str, str]:
    """What the warehouse's view of unloaded shards reads (``store.pending``): a pattern
    matching every shard and the schema file (so it never matches nothing), and the
    manifests. The schema file lies outside ``pages`` so the loader and ``compact``
    never see it."""
    return {"files": str(root / "*" / "source=*" / "month=*" / "*.parquet"),
            "manifests": str(root / MANIFEST / "*.json"),
            "schema_file": str(root / SCHEMA / "source=~none" / "month=~none" / "~schema.parquet")}


def manifest(root: Path, key: str) -> dict[str, Any] | None:
    try:
        return json.loads((root / MANIFEST / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def done_keys(root: Path) -> set[str]:
    folder = root / MANIFEST
    return {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()


def start_work(root: Path, key: str) -> Path:
    work = root / WORK / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    return work


class Ticker:
    """A task's progress inside its file, written to its work folder at the first article
    kept and then at most every ``every`` seconds (the coordinator sums the folders it
    sees: pool and Dask alike). The first note comes at once so that even a short file
    shows it is under way."""

    def __init__(self, work: Path, every: float = 0.5) -> None:
        self.path, self.every, self.last, self.shown = work / PROGRESS, every, time.monotonic(), False

    def __call__(self, records: int, kept: int) -> None:
        if time.monotonic() - self.last >= self.every or (kept and not self.shown):
            self.last, self.shown = time.monotonic(), self.shown or kept > 0
            _write_json(self.path, {"records": records, "kept": kept})


def in_progress(root: Path, stale: float = 60.0) -> tuple[int, int]:
    """(records read, articles kept) so far by the files in progress; a note not renewed
    for ``stale`` seconds is a worker that died (its file is read again elsewhere)."""
    records = kept = 0
    for path in (root / WORK).glob(f"*/{PROGRESS}") if (root / WORK).is_dir() else []:
        try:
            if time.time() - path.stat().st_mtime > stale:
                continue
            note = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # finished and removed, or being replaced, meanwhile
            continue
        records, kept = records + int(note.get("records", 0)), kept + int(note.get("kept", 0))
    return records, kept


def abandon_work(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


def work_folders(root: Path) -> set[str]:
    return {p.name for p in (root / WORK).iterdir()} if (root / WORK).is_dir() else set()


def work_owner(name: str) -> tuple[str, int]:
    """(file key, pid) of a work folder's name."""
    key, pid, _ = name.rsplit(".", 2)
    return key, int(pid) if pid.isdigit() else -1


def abandon_work_of(root: Path, key: str) -> None:
    """Remove what dead workers left of a file (the file is read again from the start)."""
    for name in work_folders(root):
        if work_owner(name)[0] == key:
            abandon_work(root / WORK / name)


def finish_work(root: Path, key: str, work: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """Shards into place, then the manifest: a reader never sees a manifest without its rows."""
    written = parquet.write_partitioned(work / PAGES, key, rows) if rows else []
    for path in written:
        dest = root / PAGES / path.relative_to(work / PAGES)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
    note = {**summary, "key": key, "shards": [str(p.relative_to(work)) for p in written],
            "finished_at": datetime.now().astimezone().isoformat()}
    _write_json(work / "manifest.json", note)
    (root / MANIFEST).mkdir(parents=True, exist_ok=True)
    os.replace(work / "manifest.json", root / MANIFEST / f"{key}.json")
    shutil.rmtree(work, ignore_errors=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")


# -- compaction --------------------------------------------------------------------------

def compact(root: Path, *, min_files: int = 2) -> dict[str, int]:
    """Merge the shards of finished files in each partition into one file. A journal
    written before the merged file is moved in lets a cut-short compaction be finished
    (the inputs deleted) by the next one, so no row is ever in two files for long."""
    done, merged, removed = done_keys(root), 0, 0
    for part in sorted({p.parent for p in (root / PAGES).rglob("*.parquet")}) if (root / PAGES).is_dir() else []:
        removed += _finish_journal(part)
        inputs = [p for p in sorted(part.glob("*.parquet"))
                  if p.name.startswith(COMPACT_PREFIX) or p.name.rsplit("_", 1)[0] in done]
        if len(inputs) < min_files:
            continue
        _merge(part, inputs)
        merged, removed = merged + 1, removed + len(inputs)
    return {"partitions_merged": merged, "files_removed": removed}


def _merge(part: Path, inputs: list[Path]) -> None:
    out = part / f"{COMPACT_PREFIX}{uuid.uuid4().hex[:12]}.parquet"
    tmp = part / f".{out.name}.tmp"
    parquet.merge_files(inputs, tmp)
    _write_json(part / JOURNAL, {"output": out.name, "inputs": [p.name for p in inputs]})
    os.replace(tmp, out)
    _finish_journal(part)


def _finish_journal(part: Path) -> int:
    journal = part / JOURNAL
    if not journal.exists():
        return 0
    note = json.loads(journal.read_text(encoding="utf-8"))
    removed = 0
    if (part / note["output"]).exists():  # the merge landed: its inputs go
        for name in note["inputs"]:
            if (part / name).exists():
                (part / name).unlink()
                removed += 1
    journal.unlink()
    return removed
