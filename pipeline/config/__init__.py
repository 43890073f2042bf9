"""Configuration: what the machine runs with and what it watches.

Takes in: the configuration folder (``newswatch.toml``, ``sources.toml``,
``stories/<id>.toml``) and the environment. Gives out: a validated, frozen ``Settings``
(every problem reported at once, by file and key), story definitions
(``stories``), a story's reference articles (``references``) and the address rules the
digest shares (``addresses``).

A story is configuration, so its definition and reference set are read and checked here,
with everything else, before any job starts; scoring an article against a story is the
``story`` stage's work.

Imports: ``errors`` only. Every other room may import it.
"""

from __future__ import annotations

from pipeline.config.settings import (
    DEFAULT_USER_AGENT,
    ENV_CONFIG,
    SOURCE_KINDS,
    Outlet,
    Settings,
    SourceDef,
    effective_settings,
    load_settings,
    outlet_slug,
    counter_reference_dir,
    reference_dir,
    resolve_config_dir,
    smtp_password,
)

__all__ = ["DEFAULT_USER_AGENT", "ENV_CONFIG", "SOURCE_KINDS", "Outlet", "Settings", "SourceDef",
           "counter_reference_dir", "effective_settings", "load_settings", "outlet_slug", "reference_dir", "resolve_config_dir", "smtp_password"]
