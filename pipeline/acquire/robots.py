"""robots.txt rules for article pages, as RFC 9309 says them (pure).

- The group for us is the one whose user-agent line matches our product token
  (case-insensitive), else the ``*`` group; several groups for the same agent merge.
- The most specific rule wins: the longest matching path; on a tie, Allow wins.
- ``*`` matches any run of characters and a final ``$`` anchors the end of the path.
- What the fetch said decides when there are no rules (§2.3.1.3-4): a 4xx means "no
  robots.txt": everything is allowed; a 5xx or an unreachable host means "disallow all".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

AGENT = "newswatch"
MAX_BYTES = 500 * 1024  # §2.5: parse at least 500 KiB; we read no more


@dataclass(frozen=True)
class Rule:
    allow: bool
    path: str

    def matches(self, path: str) -> bool:
        return _pattern(self.path).match(path) is not None


@dataclass(frozen=True)
class Robots:
    rules: tuple[Rule, ...] = ()
    allow_all: bool = False
    disallow_all: bool = False

    def allowed(self, url: str) -> bool:
        if self.allow_all:
            return True
        if self.disallow_all:
            return False
        path = _path_of(url)
        matching = [r for r in self.rules if r.path and r.matches(path)]
        if not matching:
            return True
        best = max(matching, key=lambda r: (len(r.path), r.allow))
        return best.allow


def from_status(status: int) -> Robots:
    """No rules to read: 4xx allows everything, anything else (5xx) disallows."""
    return Robots(allow_all=400 <= status < 500, disallow_all=not 400 <= status < 500)


UNREACHABLE = Robots(disallow_all=True)


def parse_robots(text: str, agent: str = AGENT) -> Robots:
    groups = _groups(text[:MAX_BYTES])
    mine = [rules for agents, rules in groups if any(_agent_matches(a, agent) for a in agents)]
    if not mine:
        mine = [rules for agents, rules in groups if "*" in agents]
    return Robots(rules=tuple(r for rules in mine for r in rules))


def _groups(text: str) -> list[tuple[list[str], list[Rule]]]:
    groups: list[tuple[list[str], list[Rule]]] = []
    agents: list[str] = []
    rules: list[Rule] = []
    for key, value in _lines(text):
        if key == "user-agent":
            if rules:  # a user-agent line after rules starts a new group
                groups.append((agents, rules))
                agents, rules = [], []
            agents.append(value.lower())
        elif key in ("allow", "disallow") and agents:
            rules.append(Rule(key == "allow", value))
    if agents:
        groups.append((agents, rules))
    return groups


def _lines(text: str) -> list[tuple[str, str]]:
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" in line:
            key, value = line.split(":", 1)
            out.append((key.strip().lower(), value.strip()))
    return out


def _agent_matches(token: str, agent: str) -> bool:
    return token != "*" and token.split("/")[0] == agent.lower()


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


_CACHE: dict[str, re.Pattern[str]] = {}


def _pattern(rule_path: str) -> re.Pattern[str]:
    if rule_path not in _CACHE:
        anchored = rule_path.endswith("$")
        body = rule_path[:-1] if anchored else rule_path
        regex = ".*".join(re.escape(part) for part in body.split("*"))
        _CACHE[rule_path] = re.compile(regex + ("$" if anchored else ""))
    return _CACHE[rule_path]
