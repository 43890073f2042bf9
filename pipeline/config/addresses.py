"""E-mail addresses and domain names as the digest uses them (sender, recipients,
List-Id): checked when the configuration loads and again when a message is built, by the
same two functions, so both agree."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import parseaddr

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def domain(value: str, what: str) -> str:
    labels = value.strip().rstrip(".").split(".")
    if len(value) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{what} {value!r} is not a domain name (letters, digits, '-', '.')")
    return ".".join(labels).lower()


def address(value: str, what: str) -> Address:
    """``value`` ("a@b" or "Name <a@b>") as an Address; refuse anything header-unsafe."""
    if _CONTROL.search(value):
        raise ValueError(f"{what} {value!r} contains control characters")
    name, addr = parseaddr(value)
    try:
        parsed = Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise ValueError(f"{what} {value!r} is not an e-mail address: {exc}") from exc
    if not parsed.username or not parsed.domain:
        raise ValueError(f"{what} {value!r} is not an e-mail address (need local@domain)")
    return parsed
