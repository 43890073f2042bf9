"""Pages that failed are retried when the failure was passing (a 5xx, a timeout), up to
three attempts, even when their feed has not changed; permanent failures (a 404) are not."""

from __future__ import annotations

from conftest import rows


def _pick(site):
    """Two articles listed by a feed with validators (so the second poll is a 304)."""
    room = site.room
    feed = next(f for f in room.feeds if f.etag or f.last_modified)
    slugs = [s for s in feed.slugs if not room.article(s).redirect][:2]
    return [room.article(s) for s in slugs]


def _status(site, article) -> tuple[str, int, bool | None]:
    url_rows = rows(site.warehouse, "SELECT a.status, a.attempts, a.fail_transient FROM articles a "
                    "WHERE a.url LIKE ?", [f"%{article.path}%"])
    assert len(url_rows) == 1, url_rows
    return url_rows[0]


def test_a_passing_failure_is_retried_and_a_permanent_one_is_not(site):
    room = site.room
    flaky, gone = _pick(site)
    original = room.route(flaky.path)
    room.set_route(flaky.path, status=503, body=b"busy")
    room.set_route(gone.path, status=404, body=b"gone")
    assert site.run("run", "--all").returncode == 0
    assert _status(site, flaky)[:1] == ("failed",) and _status(site, flaky)[2] is True
    assert _status(site, gone)[:1] == ("failed",) and _status(site, gone)[2] is False

    room.set_route(flaky.path, original)
    room.clear_requests()
    second = site.run("run", "--all")
    assert second.returncode == 0, second.stderr
    assert _status(site, flaky)[0] == "extracted"
    assert room.requests_for(gone.path) == []  # a 404 is not asked again
    assert "new articles 1" in second.stdout


def test_retries_stop_after_three_attempts(site):
    room = site.room
    flaky, _ = _pick(site)
    room.set_route(flaky.path, status=500, body=b"broken")
    for _ in range(4):
        assert site.run("run", "--all").returncode == 0
    assert len(room.requests_for(flaky.path)) == 3
    assert _status(site, flaky) == ("failed", 3, True)


def test_links_looked_up_together_answer_as_one_by_one(site):
    """The refresh path asks the warehouse about all of a source's links at once
    (``articles_for_urls``): every link, extracted, failed or unknown, gets the answer the
    one-link lookup gives."""
    from pipeline.store import open_writer

    room = site.room
    flaky, gone = _pick(site)
    room.set_route(flaky.path, status=503, body=b"busy")
    room.set_route(gone.path, status=404, body=b"gone")
    assert site.run("run", "--all").returncode == 0
    keys = [k for (k,) in rows(site.warehouse, "SELECT url_key FROM article_urls")]
    keys += ["http://127.0.0.1/never-seen", keys[0] + "-other"]
    store = open_writer(site.warehouse)
    try:
        together = store.articles_for_urls(keys)
        one_by_one = {k: store.article_for_url(k) for k in keys}
    finally:
        store.close()
    assert together == one_by_one
    assert {s for _, s in filter(None, together.values())} >= {"extracted", "failed"}
    assert together["http://127.0.0.1/never-seen"] is None
