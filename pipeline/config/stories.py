"""A story's definition: what ``config/stories/<id>.toml`` says, validated.

A story is configuration, so its definition is read and checked with the rest of the
configuration (every problem reported at once, before any job starts); scoring an article
against it is ``pipeline.story.scorer``'s work.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class TermRule:
    """Terms that must co-occur. A phrase is matched case-insensitively on whole words,
    with punctuation and hyphens read as spaces; a trailing ``*`` matches any word ending
    (``paus*`` matches pause, paused, pausing)."""

    anchor: tuple[str, ...]
    topic: tuple[tuple[str, tuple[str, ...]], ...]  # (group name, phrases), in file order
    min_topic_groups: int = 1


@dataclass(frozen=True)
class Thresholds:
    relevant: float
    borderline: float


@dataclass(frozen=True)
class StoryDef:
    id: str
    name: str
    window_start: date
    window_end: date | None
    reference: str  # folder of seed articles, relative to the config folder
    query: str  # words for news-search feeds ({query} in a source URL)
    terms: TermRule
    thresholds: Thresholds
    # Folder of counter-examples (near misses that are *not* the story), relative to the
    # config folder; None when the story has none.
    counter_reference: str | None = None


_TOP_KEYS = {"id", "name", "window_start", "window_end", "reference", "query", "terms", "thresholds",
             "counter_reference"}
_REQUIRED = ("id", "name", "window_start", "reference", "terms", "thresholds")
_TERM_KEYS = {"anchor", "topic", "min_topic_groups"}
_THRESHOLD_KEYS = {"relevant", "borderline"}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def parse_story(data: Mapping[str, Any], path: str) -> tuple[StoryDef | None, list[str]]:
    """Validate one story document; every problem names the file, the key and what is expected."""
    problems = _unknown(data, _TOP_KEYS, path, "")
    problems += [f"{path}: missing key '{k}'" for k in _REQUIRED if k not in data]
    sid = _string(data, "id", path, problems, pattern=_ID)
    name = _string(data, "name", path, problems)
    start = _date(data, "window_start", path, problems)
    end = _date(data, "window_end", path, problems)
    if start and end and end < start:
        problems.append(f"{path}: key 'window_end': expected a date on or after window_start ({start})")
    reference = _string(data, "reference", path, problems)
    query = _string(data, "query", path, problems)
    counter = _string(data, "counter_reference", path, problems) if "counter_reference" in data else None
    terms = _terms(data.get("terms"), path, problems)
    thresholds = _thresholds(data.get("thresholds"), path, problems)
    if problems:
        return None, problems
    return StoryDef(sid, name, start, end, reference, query, terms, thresholds, counter or None), []


def story_from_dict(data: Mapping[str, Any], source_name: str) -> StoryDef:
    """``parse_story`` that raises ``ConfigError`` listing every problem."""
    story, problems = parse_story(data, source_name)
    if story is None:
        raise ConfigError(problems)
    return story


def _unknown(data: Mapping[str, Any], allowed: set[str], path: str, prefix: str) -> list[str]:
    expected = ", ".join(sorted(allowed))
    return [f"{path}: unknown key '{prefix}{k}' (expected one of: {expected})"
            for k in data if k not in allowed]


def _string(data: Mapping[str, Any], key: str, path: str, problems: list[str], *,
            pattern: re.Pattern[str] | None = None) -> str:
    value = data.get(key)
    if value is None:
        return ""  # optional, or missing and already reported by parse_story
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{path}: key '{key}': expected a non-empty string, got {value!r}")
    elif pattern is not None and not pattern.match(value):
        problems.append(f"{path}: key '{key}': expected lowercase letters, digits, '-' or '_', got {value!r}")
    return value if isinstance(value, str) else ""


def _date(data: Mapping[str, Any], key: str, path: str, problems: list[str]) -> date | None:
    value = data.get(key)
    # TOML local dates arrive as date; a datetime is also a date, so refuse it by name.
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    problems.append(f"{path}: key '{key}': expected a TOML date like 2026-06-01 (no quotes, no time), "
                    f"got {value!r}")
    return None


def _phrases(value: Any, key: str, path: str, problems: list[str]) -> tuple[str, ...]:
    ok = isinstance(value, list) and value and all(isinstance(v, str) and norm_text(v) for v in value)
    if not ok:
        problems.append(f"{path}: key '{key}': expected a non-empty list of words or phrases, got {value!r}")
        return ()
    return tuple(value)


def _terms(raw: Any, path: str, problems: list[str]) -> TermRule:
    if not isinstance(raw, Mapping):
        if raw is not None:
            problems.append(f"{path}: key 'terms': expected a table ([terms]), got {raw!r}")
        return TermRule((), ())
    problems += _unknown(raw, _TERM_KEYS, path, "terms.")
    anchor = _phrases(raw.get("anchor"), "terms.anchor", path, problems)
    topic_raw = raw.get("topic")
    if not isinstance(topic_raw, Mapping) or not topic_raw:
        problems.append(f"{path}: key 'terms.topic': expected a table of named phrase lists "
                        f"([terms.topic] group = [\"...\"]), got {topic_raw!r}")
        topic_raw = {}
    topic = tuple((g, _phrases(v, f"terms.topic.{g}", path, problems)) for g, v in topic_raw.items())
    need = raw.get("min_topic_groups", 1)
    if isinstance(need, bool) or not isinstance(need, int) or not 0 <= need <= max(len(topic), 1):
        problems.append(f"{path}: key 'terms.min_topic_groups': expected an integer from 0 to the "
                        f"number of topic groups ({len(topic)}), got {need!r}")
        need = 1
    return TermRule(anchor, topic, need)


def _thresholds(raw: Any, path: str, problems: list[str]) -> Thresholds:
    if not isinstance(raw, Mapping):
        if raw is not None:
            problems.append(f"{path}: key 'thresholds': expected a table ([thresholds]), got {raw!r}")
        return Thresholds(1.0, 1.0)
    problems += _unknown(raw, _THRESHOLD_KEYS, path, "thresholds.")
    values = {}
    for key in sorted(_THRESHOLD_KEYS):
        v = raw.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            problems.append(f"{path}: key 'thresholds.{key}': expected a number from 0 to 1, got {v!r}")
            v = 1.0
        values[key] = float(v)
    if values["borderline"] > values["relevant"]:
        problems.append(f"{path}: key 'thresholds.borderline': expected a number <= thresholds.relevant "
                        f"({values['relevant']}), got {values['borderline']}")
    return Thresholds(values["relevant"], values["borderline"])


def norm_text(text: str) -> str:
    """Lowercase, compatibility-folded, every run of non-word characters (hyphens,
    quotes, punctuation, underscores) turned into one space."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.split(r"[\W_]+", text)).strip()
