"""The digest renderer: pure, so these tests build DigestData and read the message back."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, default
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.deliver.digest import (
    BAR_COLOR,
    MAX_BARS,
    SPARKS,
    SUBJECT_MAX,
    TITLE_MAX,
    ClusterItem,
    DigestData,
    FailingSource,
    clean_line,
    daily_series,
    digest_subject,
    render_digest,
    render_preview_html,
    safe_http_url,
    sparkline,
)

GOLDEN = Path(__file__).parent / "data" / "digest"
UTC = timezone.utc
HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_HEADER = "Breaking\r\nBcc: victim@example.com"
LONG_TITLE = "x" * 5000


def sample(**changes: object) -> DigestData:
    """A busy day with hostile content from the web mixed in."""
    fields: dict[str, object] = dict(
        story_id="rsi-pause", story_name="When AI builds itself",
        date=date(2026, 6, 5),
        window_start=datetime(2026, 6, 4, 7, 0, tzinfo=UTC),
        window_end=datetime(2026, 6, 5, 7, 0, tzinfo=UTC),
        new_articles=9, new_outlets=2, copies_carried=4,
        clusters=[
            ClusterItem("Lab weighs a pause on self-improving AI", "The Left Shift",
                        "https://theleftshift.example/ai-pause?ref=rss&x=1", 3,
                        [("Daily Wire Service", "https://wire.example/a/1"),
                         ("Mirror Site", "https://mirror.example/copy")]),
            ClusterItem(HOSTILE_SCRIPT, "Evil <b>Outlet</b>", "javascript:alert(2)", 1,
                        [("Data", "data:text/html,<script>alert(3)</script>")]),
            ClusterItem(HOSTILE_HEADER, "Outlet\r\nX-Injected: yes", "https://ok.example/2", 2),
            ClusterItem(LONG_TITLE, "Verbose Times", "https://verbose.example/" + "p" * 3000, 1),
        ],
        new_outlet_names=["Mirror Site", "Ünïcode Gazette"],
        by_outlet=[("The Left Shift", 4), ("Daily Wire Service", 2), ("Mirror Site", 1),
                   ("Verbose Times", 8)],
        daily=[(date(2026, 6, 5), 9), (date(2026, 6, 3), 3), (date(2026, 5, 25), 1),
               (date(2026, 5, 1), 50)],  # the last one is outside the 14 days
        failing_sources=[("gn-search", "https://news.example/rss?q=ai",
                          datetime(2026, 6, 2, 6, 30, tzinfo=UTC), "http",
                          "HTTP 503\r\nService Unavailable")],
    )
    fields.update(changes)
    return DigestData(**fields)  # type: ignore[arg-type]


def render(data: DigestData, recipient: str = "reader@example.com") -> EmailMessage:
    return render_digest(data, sender="Newswatch <newswatch@example.org>", recipient=recipient,
                         list_id="lists.example.org", message_id_domain="example.org")


def round_trip(msg: EmailMessage) -> EmailMessage:
    """What a receiving client sees: the wire bytes parsed again."""
    return message_from_bytes(msg.as_bytes(policy=SMTP), policy=default)  # type: ignore[return-value]


def parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


# ---------------------------------------------------------------- structure and headers


def test_message_is_multipart_alternative_with_text_then_html() -> None:
    msg = round_trip(render(sample()))
    assert msg.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in msg.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    text, html = parts(msg)
    assert "Lab weighs a pause on self-improving AI" in text
    assert "Lab weighs a pause on self-improving AI" in html


def test_headers_are_set() -> None:
    msg = round_trip(render(sample()))
    assert msg["From"].addresses[0].addr_spec == "newswatch@example.org"
    assert msg["To"] == "reader@example.com"
    assert msg["List-Id"] == "<rsi-pause.lists.example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Newswatch-Story"] == "rsi-pause"
    assert msg["Date"].datetime == datetime(2026, 6, 5, 7, 0, tzinfo=UTC)


def test_message_id_is_stable_and_depends_on_story_day_and_recipient() -> None:
    first, again = render(sample()), render(sample())
    assert first["Message-ID"] == again["Message-ID"]
    assert re.fullmatch(r"<digest\.rsi-pause\.2026-06-05\.[0-9a-f]{16}@example\.org>",
                        first["Message-ID"])
    others = {render(sample(), recipient="other@example.com")["Message-ID"],
              render(sample(date=date(2026, 6, 6)))["Message-ID"],
              render(sample(story_id="another"))["Message-ID"]}
    assert first["Message-ID"] not in others and len(others) == 3


def test_message_id_domain_defaults_to_the_senders() -> None:
    msg = render_digest(sample(), sender="news@mail.example.net", recipient="r@example.com",
                        list_id="lists.example.org")
    assert msg["Message-ID"].endswith("@mail.example.net>")


@pytest.mark.parametrize("bad", ["a@b\r\nBcc: x@y", "not an address", "x@"])
def test_bad_recipient_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        render_digest(sample(), sender="n@example.org", recipient=bad, list_id="l.example.org")


def test_bad_list_id_domain_is_refused() -> None:
    with pytest.raises(ValueError):
        render_digest(sample(), sender="n@example.org", recipient="r@example.com",
                      list_id="lists.example.org>\r\nBcc: x@y")


# ---------------------------------------------------------------- subject


def test_subject_has_story_date_and_counts() -> None:
    assert digest_subject(sample()) == \
        "[When AI builds itself] 2026-06-05: 9 new articles, 2 new outlets"
    assert digest_subject(sample(new_articles=1, new_outlets=1)).endswith(
        "1 new article, 1 new outlet")


def test_subject_cannot_inject_headers() -> None:
    data = sample(story_name="Story\r\nBcc: victim@example.com\nX-Evil: 1")
    msg = round_trip(render(data))
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert "\r" not in msg["Subject"] and "\n" not in msg["Subject"]
    assert msg["Subject"].startswith("[Story Bcc: victim@example.com X-Evil: 1")


def test_subject_is_capped_and_keeps_non_ascii() -> None:
    long_name = render(sample(story_name="É" * 500))
    assert len(round_trip(long_name)["Subject"]) <= SUBJECT_MAX
    name = "Économie: l’IA se construit elle-même"
    assert round_trip(render(sample(story_name=name)))["Subject"].startswith(f"[{name}]")


# ---------------------------------------------------------------- hostile content


def test_script_title_is_escaped_in_html_and_plain_in_text() -> None:
    text, html = parts(round_trip(render(sample())))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert "Evil &lt;b&gt;Outlet&lt;/b&gt;" in html
    assert HOSTILE_SCRIPT in text  # plain text shows it as text, which is harmless


def test_crlf_in_titles_and_outlets_stays_on_one_line() -> None:
    text, html = parts(round_trip(render(sample())))
    for body in (text, html):
        assert "Breaking Bcc: victim@example.com" in body
        assert not re.search(r"(?m)^\s*(Bcc|X-Injected):", body)


def test_long_title_is_truncated_in_both_parts() -> None:
    text, html = parts(round_trip(render(sample())))
    for body in (text, html):
        runs = re.findall(r"x{100,}", body)
        assert runs and max(len(r) for r in runs) < TITLE_MAX
    # cut to TITLE_MAX characters in all, the last one an ellipsis
    assert re.search(r"(?m)^4\. x{%d}…\r?$" % (TITLE_MAX - 1), text)


def test_only_http_urls_become_links() -> None:
    _, html = parts(round_trip(render(sample())))
    hrefs = [attrs["href"] for tag, attrs in tags_of(html) if tag == "a"]
    assert hrefs and all(h is not None and re.match(r"https?://", h) for h in hrefs)
    assert "https://theleftshift.example/ai-pause?ref=rss&x=1" in hrefs
    assert "javascript:alert(2)" in html  # shown, as text
    assert "data:text/html,&lt;script&gt;" in html
    assert not any(h and h.startswith("https://verbose.example/") for h in hrefs)  # > 2048


def test_html_loads_nothing_external() -> None:
    _, html = parts(round_trip(render(sample())))
    tags = tags_of(html)
    assert not [t for t, _ in tags if t in ("img", "script", "link", "iframe", "object", "style")]
    assert not [a for _, a in tags if "src" in a or "background" in a]
    assert "url(" not in html and "@import" not in html


def test_controls_and_bidi_overrides_are_removed() -> None:
    assert clean_line("a\x1b[31mred\u202egnp.exe\x00b", 100) == "a [31mredgnp.exe b"
    assert clean_line("x\udcff", 10) == "x"  # a lone surrogate could not be encoded


@pytest.mark.parametrize("url, ok", [
    ("https://a.example/x?q=1", True), ("http://a.example", True),
    ("javascript:alert(1)", False), ("//a.example/x", False), ("https:///nohost", False),
    ("https://a.example/x y", False), ("https://a.example/\nx", False),
    ("ftp://a.example/f", False), ("https://[::1", False), (None, False),
])
def test_safe_http_url(url: str | None, ok: bool) -> None:
    result = safe_http_url(url)
    assert (result is not None) is ok
    assert result in (None, url)


# ---------------------------------------------------------------- charts


def bar_widths(html: str) -> list[int]:
    return [int(str(a["width"]).rstrip("%")) for t, a in tags_of(html)
            if t == "td" and a.get("bgcolor") == BAR_COLOR and str(a.get("width", "")).endswith("%")]


def test_outlet_bars_are_scaled_to_the_largest_and_sorted() -> None:
    html = render_preview_html(sample())
    assert bar_widths(html) == [100, 50, 25, 12]  # 8, 4, 2, 1 articles
    chart = html[html.index("Articles by outlet"):]
    order = [chart.index(name) for name in ("Verbose Times", "The Left Shift", "Daily Wire")]
    assert order == sorted(order)


def test_outlet_bars_are_capped() -> None:
    rows = [(f"Outlet {i}", i + 1) for i in range(MAX_BARS + 5)]
    html = render_preview_html(sample(by_outlet=rows))
    assert len(bar_widths(html)) == MAX_BARS
    assert "and 5 more outlets" in html


def test_text_bars_line_up_and_scale() -> None:
    text, _ = parts(render(sample()))
    section = text[text.index("BY OUTLET\n"):]
    lines = section[:section.index("\n\n")].splitlines()[1:]
    assert len(lines) == 4
    assert len({l.index("█") for l in lines}) == 1  # all bars start in the same column
    lengths = [l.count("█") for l in lines]
    assert lengths == sorted(lengths, reverse=True) and lengths[0] == 2 * lengths[1]


def test_daily_series_fills_fourteen_days_ending_at_the_digest_day() -> None:
    series = daily_series([(date(2026, 6, 5), 9), (date(2026, 6, 3), 3),
                           (date(2026, 5, 1), 50)], date(2026, 6, 5))
    assert len(series) == 14
    assert series[0] == (date(2026, 5, 23), 0) and series[-1] == (date(2026, 6, 5), 9)
    assert dict(series)[date(2026, 6, 3)] == 3 and sum(c for _, c in series) == 12


def test_sparkline_marks_empty_days_lowest_and_the_peak_highest() -> None:
    line = sparkline([0, 1, 5, 10, 0])
    assert line[0] == line[-1] == SPARKS[0]
    assert line[3] == SPARKS[-1]
    assert SPARKS[0] < line[1] <= line[2] < line[3]  # block characters are in code order


def test_text_part_has_the_sparkline_of_the_last_14_days() -> None:
    text, _ = parts(render(sample()))
    expected = sparkline(c for _, c in daily_series(sample().daily, date(2026, 6, 5)))
    assert f"  {expected}\n" in text and len(expected) == 14


def test_html_volume_chart_has_one_column_per_day() -> None:
    html = render_preview_html(sample())
    columns = [a for t, a in tags_of(html) if t == "td" and a.get("width") == "16"]
    assert len(columns) == 14
    heights = [int(str(a["height"])) for a in columns]
    assert heights[-1] == max(heights) and heights[0] == min(heights)


# ---------------------------------------------------------------- empty day, failures


def test_empty_day_says_so() -> None:
    data = sample(new_articles=0, new_outlets=0, copies_carried=0, clusters=[],
                  new_outlet_names=[], by_outlet=[], daily=[])
    msg = round_trip(render(data))
    text, html = parts(msg)
    assert "No new coverage since 2026-06-04 07:00 UTC" in text
    assert "No new coverage since 2026-06-04 07:00 UTC" in html
    assert msg["Subject"].endswith("no new coverage")
    assert "STORIES" not in text and "BY OUTLET" not in text
    assert sparkline([0] * 14) in text


def test_busy_day_does_not_say_no_coverage() -> None:
    text, html = parts(render(sample()))
    assert "No new coverage" not in text and "No new coverage" not in html


def test_failing_sources_are_listed_on_one_line_each() -> None:
    since = datetime(2026, 6, 2, 6, 30, tzinfo=UTC)
    data = sample(failing_sources=[FailingSource("gn-search", "https://news.example/rss",
                                                 since, "timeout", "read timed out\n(20 s)")])
    text, html = parts(render(data))
    assert "gn-search (timeout since 2026-06-02 06:30 UTC): https://news.example/rss" in text
    assert "read timed out (20 s)" in text and "read timed out (20 s)" in html


def test_local_timezone_is_shown() -> None:
    tz = timezone(timedelta(hours=1), "BST")
    data = sample(window_start=datetime(2026, 6, 4, 8, 0, tzinfo=tz))
    assert "Since 2026-06-04 08:00 BST" in parts(render(data))[0]


def test_preview_is_the_html_part() -> None:
    data = sample()
    assert render_preview_html(data) == parts(render(data))[1]


# ---------------------------------------------------------------- golden file


def test_text_part_matches_golden_file() -> None:
    """The whole text part, reviewed by eye. Regenerate on purpose with
    NEWSWATCH_REGEN_GOLDEN=1 and read the diff before keeping it."""
    text, _ = parts(render(sample()))
    path = GOLDEN / "busy_day.txt"
    if os.environ.get("NEWSWATCH_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
