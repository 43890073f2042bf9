"""robots.txt for article pages: the rules (RFC 9309) and the gate through a real run."""

from __future__ import annotations

import pytest
from conftest import rows

from pipeline.acquire.robots import from_status, parse_robots

RULES = """
# comments and blank lines are ignored
User-agent: otherbot
Disallow: /

User-agent: *
Disallow: /private/
Allow: /private/press/
Disallow: /*.pdf$
Disallow: /search?

User-agent: NewsWatch/2.0
User-agent: somebody-else
Disallow: /members/
Allow: /members/free-*
"""


@pytest.mark.parametrize("path, allowed", [
    ("/news/story.html", True),
    ("/members/story.html", False),
    ("/members/free-story.html", True),      # longer Allow beats shorter Disallow
    ("/private/anything", True),            # the * group does not apply: ours exists
])
def test_our_own_group_wins_over_the_star_group(path: str, allowed: bool) -> None:
    assert parse_robots(RULES).allowed(f"https://example.org{path}") is allowed


@pytest.mark.parametrize("path, allowed", [
    ("/private/x", False),
    ("/private/press/release", True),
    ("/files/report.pdf", False),
    ("/files/report.pdf?download=1", True),  # $ anchors the end
    ("/search?q=ai", False),
    ("/searching", True),
    ("/", True),
])
def test_star_group_longest_match_and_wildcards(path: str, allowed: bool) -> None:
    rules = parse_robots(RULES, agent="unknownbot")
    assert rules.allowed(f"https://example.org{path}") is allowed


def test_tie_between_allow_and_disallow_allows() -> None:
    rules = parse_robots("User-agent: *\nDisallow: /a\nAllow: /a\n")
    assert rules.allowed("https://example.org/a/b")


def test_status_without_rules() -> None:
    assert from_status(404).allowed("https://example.org/x")
    assert from_status(403).allowed("https://example.org/x")
    assert not from_status(503).allowed("https://example.org/x")


def _page_paths(room) -> set[str]:
    return {a.path for a in room.live_articles()}


def test_disallowed_pages_are_never_fetched_and_say_why(site):
    room = site.room
    room.set_route("/robots.txt", body="User-agent: *\nDisallow: /signal-noise/\n",
                   content_type="text/plain")
    assert site.run("run", "--all").returncode == 0
    blocked = [a for a in room.live_articles() if a.outlet == "signal-noise"]
    assert blocked
    for a in blocked:
        assert room.requests_for(a.path) == []
    reasons = rows(site.warehouse, "SELECT fail_reason FROM articles WHERE url LIKE '%/signal-noise/%'")
    assert reasons and all(r[0].startswith("robots:") for r in reasons)
    others = [a for a in room.live_articles() if a.outlet != "signal-noise" and not a.redirect]
    assert all(room.requests_for(a.path) for a in others)


def test_robots_is_read_once_and_kept(site):
    room = site.room
    assert site.run("run", "--all").returncode == 0
    assert site.run("run", "--all").returncode == 0
    assert len(room.requests_for("/robots.txt")) == 1


def test_an_unreachable_robots_txt_disallows_and_a_missing_one_allows(site):
    room = site.room
    room.set_route("/robots.txt", status=503, body=b"down")
    assert site.run("run", "--all").returncode == 0
    assert not any(room.requests_for(p) for p in _page_paths(room))
    assert rows(site.warehouse, "SELECT count(*) FROM articles WHERE status = 'extracted'")[0][0] == 0


def test_a_missing_robots_txt_allows_everything(site):
    room = site.room
    room.set_route("/robots.txt", status=404, body=b"no such file")
    assert site.run("run", "--all").returncode == 0
    assert rows(site.warehouse, "SELECT count(*) FROM articles WHERE status = 'extracted'")[0][0] == len(
        room.live_articles())
