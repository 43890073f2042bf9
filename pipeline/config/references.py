"""A story's reference set: the seed article files and their manifest."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

_SEED_KEYS = {"file", "headline", "headline_line", "outlet", "url", "published"}


@dataclass(frozen=True)
class Seed:
    file: str
    headline: str | None
    outlet: str | None
    url: str | None
    published: str | None
    text: str  # the body: the file without its headline line


def read_reference_set(folder: Path) -> list[Seed]:
    """Every *.txt in ``folder``, described by manifest.toml where it has an entry."""
    if not folder.is_dir():
        raise ConfigError([f"reference set folder not found: {folder}"])
    manifest = _manifest(folder)
    seeds = []
    for path in sorted(folder.glob("*.txt")):
        meta = manifest.get(path.name, {})
        seeds.append(_seed(path, meta))
    if not seeds:
        raise ConfigError([f"reference set folder {folder} holds no .txt articles"])
    return seeds


def _manifest(folder: Path) -> dict[str, dict]:
    path = folder / "manifest.toml"
    if not path.exists():
        return {}
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
    problems = [f"{path}: seed #{i + 1}: unknown key {k!r}" for i, s in enumerate(doc.get("seed", []))
                for k in sorted(set(s) - _SEED_KEYS)]
    if problems:
        raise ConfigError(problems)
    return {s["file"]: s for s in doc.get("seed", []) if "file" in s}


def _seed(path: Path, meta: dict) -> Seed:
    raw = path.read_text(encoding="utf-8")
    lines = raw.strip("\ufeff").splitlines()
    first = lines[0].strip() if lines else ""
    has_headline = meta.get("headline_line", True) if meta else len(first.split()) <= 25
    body = "\n".join(lines[1:] if has_headline else lines).strip()
    return Seed(
        file=path.name,
        headline=(meta.get("headline") or (first if has_headline else None)) or None,
        outlet=meta.get("outlet") or None,
        url=meta.get("url") or None,
        published=meta.get("published") or None,
        text=body,
    )
