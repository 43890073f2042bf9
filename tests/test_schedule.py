"""Adaptive polling (issue 12): a source's interval follows how often it brings new
entries, between schedule.min_poll_minutes and schedule.max_poll_minutes."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import numpy as np
from newsroom import Newsroom
from test_story_pipeline import newswatch, rows

from pipeline.acquire.schedule import JITTER, PollLimits, next_interval, next_poll

LIMITS = PollLimits(min_s=900, max_s=4 * 3600)


def test_a_new_source_starts_at_the_minimum():
    assert next_interval(None, 20, 20, LIMITS) == 900


def test_a_quiet_source_is_polled_less_often_up_to_the_maximum():
    assert next_interval(1800, 20, 0, LIMITS) == 3600
    assert next_interval(3 * 3600, 20, 0, LIMITS) == 4 * 3600


def test_no_overlap_between_polls_halves_the_interval_down_to_the_minimum():
    assert next_interval(7200, 20, 20, LIMITS) == 3600
    assert next_interval(1000, 20, 20, LIMITS) == 900


def test_partial_overlap_moves_toward_a_quarter_of_the_listing_being_new():
    assert next_interval(3600, 20, 5, LIMITS) == 3600  # a quarter new: right where it should be
    assert next_interval(3600, 20, 4, LIMITS) == 4500
    assert next_interval(3600, 20, 10, LIMITS) == 1800  # half new: half as long
    assert next_interval(3600, 20, 1, LIMITS) == 7200  # at most doubling at once
    assert next_interval(3600, 20, 15, LIMITS) == 1800  # at most halving at once


def test_arrays_get_the_same_answers_as_single_sources():
    previous, entries, new = np.array([0, 1800, 7200, 3600]), np.array([20, 20, 20, 20]), np.array([20, 0, 20, 5])
    expected = [next_interval(p or None, e, n, LIMITS) for p, e, n in zip(previous, entries, new)]
    assert list(next_interval(previous, entries, new, LIMITS)) == expected


def test_the_next_poll_comes_after_the_interval_within_the_jitter():
    now = datetime(2026, 6, 10, tzinfo=timezone.utc)
    rng = random.Random(3)
    delays = [(next_poll(now, 3600, rng) - now).total_seconds() for _ in range(200)]
    assert min(delays) >= 3600 and max(delays) <= 3600 * (1 + JITTER)
    assert len(set(delays)) > 100  # spread, not one instant


def test_an_unchanged_feed_is_polled_half_as_often_after_its_second_poll(tmp_path):
    with Newsroom() as room:
        config = room.write_config(tmp_path / "config", tmp_path / "newswatch.duckdb")
        for _ in range(2):
            result = newswatch(config, "run", "--all")
            assert result.returncode == 0, result.stderr
    polled = rows(tmp_path / "newswatch.duckdb", "SELECT poll_interval_s, epoch(next_check_at - last_attempt_at) "
                  "FROM sources WHERE consecutive_failures = 0 AND last_success_at IS NOT NULL")
    assert polled
    min_s = 15 * 60
    for interval, delay in polled:
        assert interval == 2 * min_s  # first poll: all new, the minimum; second: nothing new, doubled
        assert interval <= delay <= interval * (1 + JITTER) + 1
