"""`newswatch sources add URL`: the URL is fetched from the loopback newsroom, recognised,
and appended to a real sources.toml, which must still load (or is restored)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from newsroom import Newsroom

from pipeline.cli import main
from pipeline.config import load_settings
from pipeline.store import open_writer


@pytest.fixture(scope="module")
def room() -> Iterator[Newsroom]:
    with Newsroom(discovery=True) as served:
        yield served


@pytest.fixture()
def config(room: Newsroom, tmp_path: Path) -> Path:
    return room.write_config(tmp_path / "config", tmp_path / "newswatch.duckdb")


def add(capsys: pytest.CaptureFixture[str], config: Path, url: str, *extra: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "sources", "add", url, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def sources_toml(config: Path) -> str:
    return (config / "sources.toml").read_text(encoding="utf-8")


def source(config: Path, source_id: str) -> dict[str, str]:
    tables = tomllib.loads(sources_toml(config))["source"]
    return next(t for t in tables if t["id"] == source_id)


def test_a_feed_is_appended_as_text_keeping_the_files_comments(
    room: Newsroom, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sources_toml(config)
    url = room.url("/quarry-gazette/syndication/latest.xml")
    code, out, _ = add(capsys, config, url, "--id", "quarry-feed")
    assert code == 0 and out.startswith("feed:")
    after = sources_toml(config)
    assert after.startswith(before) and before.lstrip().startswith("# Written by tests/newsroom.py")
    assert source(config, "quarry-feed") == {"id": "quarry-feed", "kind": "feed", "url": url}
    settings = load_settings(config)
    assert [s.kind for s in settings.sources if s.id == "quarry-feed"] == ["feed"]


def test_a_home_page_that_advertises_its_feed_becomes_a_page_source(
    room: Newsroom, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = room.url("/quarry-gazette/")
    code, out, _ = add(capsys, config, url)
    assert code == 0
    assert room.url("/quarry-gazette/syndication/latest.xml") in out
    added = tomllib.loads(sources_toml(config))["source"][-1]
    assert (added["kind"], added["url"]) == ("page", url)
    assert added["id"] == "quarry-gazette-latest"  # named after the feed's title


def test_sitemap_index_its_gzipped_child_and_robots_txt_are_sitemap_sources(
    room: Newsroom, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert room.channels is not None
    gz_child = next(c for c in room.channels.children if c.gzip)
    urls = {"index": room.url(room.channels.index_path), "child": room.url(gz_child.path),
            "robots": room.url("/robots.txt")}
    for source_id, url in urls.items():
        code, out, err = add(capsys, config, url, "--id", source_id)
        assert code == 0, err
        assert source(config, source_id)["kind"] == "sitemap"
    assert "robots.txt naming 1 sitemap" in out


def test_a_search_url_is_fetched_with_the_storys_query_and_kept_with_the_placeholder(
    room: Newsroom, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert room.channels is not None
    templates = {"gdelt": room.url(room.channels.gdelt_path) + "?query={query}&mode=artlist&format=json",
                 "gnews": room.url(room.channels.search_path) + "?q={query}&hl=en-US"}
    for source_id, url in templates.items():
        code, _, err = add(capsys, config, url, "--id", source_id, "--story", "rsi-pause")
        assert code == 0, err
        assert source(config, source_id) == {"id": source_id, "kind": "search", "url": url,
                                             "story": "rsi-pause"}
    asked = [r.target for r in room.requests_for(room.channels.gdelt_path)]
    assert any("query=Anthropic+recursive+self-improvement+pause" in t for t in asked)
    query = load_settings(config).story("rsi-pause").query
    assert query == "Anthropic recursive self-improvement pause"


@pytest.mark.parametrize("extra", [("--outlet", "no-such-outlet"), ("--id", "harbor-tribune-atom")])
def test_a_result_that_does_not_load_is_rolled_back(
    room: Newsroom, config: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, str]
) -> None:
    before = (config / "sources.toml").read_bytes()
    code, _, err = add(capsys, config, room.url("/quarry-gazette/syndication/latest.xml"), *extra)
    assert code == 2
    assert extra[1] in err
    assert (config / "sources.toml").read_bytes() == before


def test_a_url_that_serves_nothing_pollable_is_refused(
    room: Newsroom, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    room.set_route("/plain/about.html", body="<!DOCTYPE html><html><head><title>About us</title>"
                                             "</head><body><p>We make furniture.</p></body></html>")
    before = (config / "sources.toml").read_bytes()
    for url in (room.url("/plain/about.html"), room.url("/plain/missing.xml")):
        code, _, err = add(capsys, config, url)
        assert code == 2 and f"cannot add {url}" in err
    assert "names no feed" in add(capsys, config, room.url("/plain/about.html"))[2]
    assert (config / "sources.toml").read_bytes() == before


def test_sources_still_lists_kinds_and_health(
    room: Newsroom, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add(capsys, config, room.url("/quarry-gazette/"), "--id", "quarry-home")[0] == 0
    settings = load_settings(config)
    store = open_writer(settings.warehouse_path)  # what a run does first: sync the sources
    try:
        store.sync_sources(settings.sources)
    finally:
        store.close()
    assert main(["--config", str(config), "sources", "--format", "csv"]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:3] == ["source_id", "kind", "state"]
    assert ["quarry-home", "page", "never polled"] in [r[:3] for r in rows]
