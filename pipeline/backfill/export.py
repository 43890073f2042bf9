"""A story's snapshot: its tables and views as Parquet files in a dated folder, with the
settings, the story definition and the versions that produced them, so a figure can be
cited and reloaded (``duckdb -c "select * from 'DIR/.../story_daily.parquet'"``)."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from pipeline import __version__
from pipeline.config import Settings, effective_settings
from pipeline.errors import ConfigError
from pipeline.store import open_reader

ABOUT = "snapshot.json"


def export_story(settings: Settings, out_dir: Path, story_id: str | None, now: datetime) -> dict[str, Any]:
    story = _story(settings, story_id)
    folder = out_dir / f"{story.id}-{now.astimezone(timezone.utc):%Y-%m-%dT%H%M%SZ}"
    folder.mkdir(parents=True, exist_ok=False)
    store = open_reader(settings.warehouse_path, settings.warehouse_memory_limit)
    try:
        rows = store.export_story(story.id, folder)
    finally:
        store.close()
    about = {
        "story": story.id, "exported_at": now.isoformat(), "newswatch_version": __version__,
        "duckdb_version": duckdb.__version__, "python": platform.python_version(),
        "warehouse": str(settings.warehouse_path), "story_definition": asdict(story),
        "settings": effective_settings(settings), "files": {f"{n}.parquet": c for n, c in rows.items()},
    }
    (folder / ABOUT).write_text(json.dumps(about, indent=1, default=str), encoding="utf-8")
    return {"folder": str(folder), "files": about["files"]}


def _story(settings: Settings, story_id: str | None) -> Any:
    if story_id is None:
        if len(settings.stories) != 1:
            raise ConfigError([f"stories/: {len(settings.stories)} stories are configured; choose one with --story"])
        return settings.stories[0]
    try:
        return settings.story(story_id)
    except KeyError:
        raise ConfigError([f"--story {story_id}: no such story (configured: "
                           f"{', '.join(s.id for s in settings.stories) or 'none'})"]) from None
