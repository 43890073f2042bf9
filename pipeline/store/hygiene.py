"""Text hygiene: no control character is stored, none reaches a terminal raw.

Feeds and pages are written by strangers; a NUL, a BEL or an ESC sequence in a title
would be stored and later replayed to whoever reads the warehouse in a terminal. Every
write of a source's batch passes through ``clean_value`` (see ``Core.save_batch``), and
``escape_controls`` makes what ``newswatch query`` prints visible instead of live.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL and the C1 block (0x80-0x9f: 0x9b is a one-byte CSI to many terminals).
# Lone surrogates too: JSON's "\ud800" escapes give them, and no encoder can write them.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # keeps \t and \n
# Whole terminal escape sequences go, not only their ESC: CSI ("ESC [" or the C1 byte 0x9b,
# parameters, a final byte) and OSC ("ESC ] ... BEL or ESC \\", e.g. a window title).
_ESCAPES = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_SPACING = re.compile(r"[\t\n\r\x0b\x0c\x85]")  # read as a space in a one-line field
BODY_FIELDS = frozenset({"body"})  # multi-line text: newlines and tabs are kept


def clean_text(text: str, *, multiline: bool = False) -> str:
    """``text`` without control characters; in multi-line text \\n and \\t stay (\\r\\n
    becomes \\n), in one-line text line breaks and tabs become spaces, runs of spaces one."""
    text = _ESCAPES.sub("", text)
    if multiline:
        return _LINE_CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return " ".join(_CONTROLS.sub("", _SPACING.sub(" ", text)).split())  # no gap where they were


def clean_value(value: Any, *, multiline: bool = False) -> Any:
    """Strings cleaned, anything else as it is (one cheap search when nothing is wrong)."""
    if isinstance(value, str) and _CONTROLS.search(value):
        return clean_text(value, multiline=multiline)
    return value


def clean_row(row: tuple) -> tuple:
    return tuple(clean_value(v) for v in row)


def clean_record(record: dict[str, Any]) -> dict[str, Any]:
    return {k: clean_value(v, multiline=k in BODY_FIELDS) for k, v in record.items()}


def escape_controls(text: str, *, keep_lines: bool = False) -> str:
    """Control characters shown as ``\\xNN`` text, so a terminal never acts on them
    (``keep_lines``: our own multi-line messages keep their \\n)."""
    pattern = _LINE_CONTROLS if keep_lines else _CONTROLS
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else
                       f"\\u{ord(m.group()):04x}", text)
