"""The configuration folder, through the real command: where it is found, how its paths
are read, and how its problems are reported (all at once, exit 2, naming file and key)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import Site, make_site, newswatch, set_setting
from newsroom import SEEDS_DIR, Newsroom

BAD_SETTINGS = """\
[warehouse]
memory_limit = "lots"

[http]
feed_timeout = "fast"
colour = "blue"
allow_networks = ["not-a-network"]

[schedule]
interval_minutes = 0

[smtp]
security = "ssl"

[bogus]
x = 1
"""

BAD_SOURCES = """\
[[outlet]]
id = "wire"
name = "The Wire"
homepage = "http://127.0.0.1/"

[[source]]
id = "wire-feed"
kind = "rss"
url = "ftp://127.0.0.1/feed.xml"
outlet = "nope"
tags = ["a"]
"""


def problems_of(stderr: str) -> list[str]:
    return [line.strip()[2:] for line in stderr.splitlines() if line.strip().startswith("- ")]


def test_every_problem_is_reported_at_once_naming_file_key_and_expectation(site: Site) -> None:
    (site.config / "newswatch.toml").write_text(BAD_SETTINGS, encoding="utf-8")
    (site.config / "sources.toml").write_text(BAD_SOURCES, encoding="utf-8")
    story = site.config / "stories" / "rsi-pause.toml"
    story.write_text('flavour = "spicy"\n' + story.read_text(encoding="utf-8"), encoding="utf-8")
    done = site.run("config")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    found = problems_of(done.stderr)
    expected = [
        r"newswatch\.toml: http\.feed_timeout = 'fast': expected a positive number",
        r"newswatch\.toml: warehouse\.memory_limit = 'lots': expected an amount of memory such as \"512MB\"",
        r"newswatch\.toml: unknown key http\.colour \(expected one of .*feed_timeout.*\)",
        r"newswatch\.toml: http\.allow_networks = .*'not-a-network' is not a network in CIDR form",
        r"newswatch\.toml: schedule\.interval_minutes = 0: expected a positive whole number",
        r"newswatch\.toml: .*smtp\.security.*expected \"starttls\", \"tls\" or \"none\"",
        r"newswatch\.toml: unknown section \[bogus\] \(expected one of .*http.*\)",
        r"sources\.toml: outlet #1: unknown key 'homepage' \(expected one of .*url_prefixes\)",
        r"sources\.toml: source #1: unknown key 'tags'",
        r"stories/rsi-pause\.toml: unknown key 'flavour' \(expected one of: .*reference.*\)",
    ]
    for pattern in expected:
        assert any(re.search(pattern, p) for p in found), (pattern, found)
    assert f"configuration has {len(found)} problem(s)" in done.stderr
    assert not site.warehouse.exists()


def test_bad_values_of_a_source_are_each_named(site: Site) -> None:
    (site.config / "sources.toml").write_text(BAD_SOURCES.replace('tags = ["a"]\n', ""), encoding="utf-8")
    done = site.run("run")
    assert done.returncode == 2
    found = problems_of(done.stderr)
    for pattern in (r"source 'wire-feed': key kind = 'rss': expected one of feed, search, sitemap, page",
                    r"source 'wire-feed': key url = 'ftp://127\.0\.0\.1/feed\.xml': expected an absolute "
                    r"http\(s\) URL",
                    r"source 'wire-feed': key outlet = 'nope': no \[\[outlet\]\] has that id"):
        assert any(re.search(pattern, p) for p in found), (pattern, found)
    assert site.room.requests == [] and not site.warehouse.exists()


def test_broken_toml_names_the_file(site: Site) -> None:
    (site.config / "newswatch.toml").write_text("[http\nfeed_timeout = 3\n", encoding="utf-8")
    done = site.run("config")
    assert done.returncode == 2 and "newswatch.toml: not valid TOML" in done.stderr


def test_a_missing_reference_folder_is_a_configuration_problem(site: Site) -> None:
    story = site.config / "stories" / "rsi-pause.toml"
    text = re.sub(r"(?m)^reference\s*=.*$", 'reference = "../no-such-seeds"', story.read_text(encoding="utf-8"))
    story.write_text(text, encoding="utf-8")
    set_setting(site.config, "http", "feed_timeout", -1)
    done = site.run("run")
    assert done.returncode == 2, done.stderr
    found = problems_of(done.stderr)
    assert any("no-such-seeds" in p and "stories/rsi-pause.toml" in p for p in found), found
    assert any("http.feed_timeout" in p for p in found), found  # reported together
    assert not site.warehouse.exists() and site.room.requests == []


# ---------------------------------------------------------------- finding the folder


def folder_of(stdout: str) -> str:
    m = re.search(r"^# config folder: (.*)$", stdout, re.MULTILINE)
    assert m, stdout
    return m[1]


def test_config_flag_beats_environment_beats_default(room: Newsroom, tmp_path: Path) -> None:
    first = make_site(room, tmp_path / "one")
    second = make_site(room, tmp_path / "two")
    by_env = newswatch(["config"], config=first.config, cwd=tmp_path)
    assert by_env.returncode == 0 and folder_of(by_env.stdout) == str(first.config)
    by_flag = newswatch(["--config", str(second.config), "config"], config=first.config, cwd=tmp_path)
    assert by_flag.returncode == 0 and folder_of(by_flag.stdout) == str(second.config)
    shutil.copytree(first.config, tmp_path / "cwd" / "config")
    by_default = newswatch(["config"], config=None, cwd=tmp_path / "cwd")
    assert by_default.returncode == 0 and folder_of(by_default.stdout) == str(tmp_path / "cwd" / "config")
    nowhere = newswatch(["config"], config=None, cwd=tmp_path)
    assert nowhere.returncode == 2 and "configuration folder not found" in nowhere.stderr
    assert "NEWSWATCH_CONFIG" in nowhere.stderr


def test_paths_are_relative_to_the_config_folder_not_the_working_directory(room: Newsroom, tmp_path: Path) -> None:
    """Warehouse and reference folder given relative to the config folder; the command
    runs from another directory, as cron would."""
    site = make_site(room, tmp_path / "site", allow_loopback=False)
    set_setting(site.config, "warehouse", "path", "../data/watch.duckdb")
    shutil.copytree(SEEDS_DIR, tmp_path / "site" / "my-seeds")
    story = site.config / "stories" / "rsi-pause.toml"
    story.write_text(re.sub(r"(?m)^reference\s*=.*$", 'reference = "../my-seeds"',
                            story.read_text(encoding="utf-8")), encoding="utf-8")
    done = site.run("run")
    assert done.returncode == 0, done.stderr
    assert "reference articles 5" in done.stdout
    assert (tmp_path / "site" / "data" / "watch.duckdb").is_file()
    assert list(site.cwd.iterdir()) == []  # nothing written where it ran


def test_a_memory_limit_too_small_for_the_warehouse_is_named_and_loses_nothing(site: Site) -> None:
    """``[warehouse] memory_limit`` reaches DuckDB: too small, the run stops with the key
    named and no traceback; with the limit raised, the next run stores everything."""
    text = (site.config / "newswatch.toml").read_text(encoding="utf-8")
    (site.config / "newswatch.toml").write_text(text.replace("[warehouse]\n", '[warehouse]\nmemory_limit = "2MB"\n', 1),
                                                encoding="utf-8")
    starved = site.run("run", "--all")
    assert starved.returncode != 0 and "Traceback" not in starved.stderr
    assert "needed more memory" in starved.stderr and "memory_limit" in starved.stderr
    set_setting(site.config, "warehouse", "memory_limit", "256MB")
    done = site.run("run", "--all")
    assert done.returncode == 0, done.stderr
    assert int(re.search(r"new articles (\d+)", done.stdout)[1]) > 0
