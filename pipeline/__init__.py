"""newswatch: follow one news story across the web."""

from __future__ import annotations

__version__ = "0.1.0"
