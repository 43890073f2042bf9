"""Issue 5 end to end: `newswatch digest` against a real warehouse and a real SMTP server.

The warehouse is filled once per module by the real ingest of the loopback newsroom, run
twice: at T0 (everything listed then, plus an outlet with a hostile headline and a feed
that fails) and at T1, a day later, after one late article was published. Each test copies
that warehouse and writes its own newswatch.toml pointing at its own aiosmtpd server on
127.0.0.1, then drives the command line in-process (``cli.main``) or, to kill it
mid-send, as a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pytest
from aiosmtpd.controller import Controller
from newsroom import Newsroom

from pipeline import cli
from pipeline.cli import digest as cli_digest
from pipeline.config import load_settings
from pipeline.daemon import build_scheduler
from pipeline.jobs import ingest, send_digest

HOST = "127.0.0.1"
UTC = timezone.utc
T0 = datetime(2026, 6, 12, 5, 0, tzinfo=UTC)  # first ingest: an hour before the 12th's digest
T1 = datetime(2026, 6, 13, 5, 0, tzinfo=UTC)  # second ingest, after the late article appeared
DAY0, DAY1 = "2026-06-12", "2026-06-13"  # digests due 07:00 Europe/London = 06:00 UTC
LATE = "dc-pause-talks"  # the newsroom's article listed only after publish()
RECIPIENTS = ["Editor <editor@newsroom.test>", "desk@newsroom.test"]
HOSTILE_TITLE = 'Anthropic\'s <script>alert("pause")</script> & "self-improvement" warning'
HOSTILE_OUTLET = 'Herald <b>&</b> "Co"'
HOSTILE_PATH = "/hostile-herald/2026/06/11/anthropic-pause-warning.html"
HOSTILE_FEED = "/hostile-herald/feed.xml"

# Written for this test: an on-topic report, so that the story keeps it.
HOSTILE_TEXT = [
    "Anthropic has warned that AI systems may soon help build better versions of themselves, "
    "a process researchers call recursive self-improvement, and said the industry should keep "
    "the option to pause frontier AI development if that happens faster than expected.",
    "In a post published on Thursday the company, which makes the Claude models, described how "
    "much of its own code is now written by Claude and argued that automated AI research could "
    "compress years of progress into months.",
    "The company said governments and labs should agree in advance on what evidence would "
    "justify a coordinated pause, who would verify it, and how such a pause could be lifted, "
    "rather than improvising once self-improving systems arrive.",
    "Critics said the warning doubled as marketing for the company's models, while safety "
    "researchers welcomed a frontier developer naming the conditions under which it would "
    "slow down. Anthropic said it would publish the tests it uses to track the risk.",
    "Lawmakers in several countries have asked AI companies to explain how a pause on frontier "
    "development would work in practice, and whether it would cover models already in use.",
]


# ---------------------------------------------------------------- the warehouse


def hostile_page(base: str) -> str:
    paragraphs = "\n".join(f"<p>{_html(p)}</p>" for p in HOSTILE_TEXT)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_html(HOSTILE_TITLE)}"
            f"</title><meta property=\"og:title\" content=\"{_html(HOSTILE_TITLE)}\">"
            f"<meta property=\"og:site_name\" content=\"{_html(HOSTILE_OUTLET)}\">"
            "<meta property=\"article:published_time\" content=\"2026-06-11T09:00:00+00:00\">"
            f"<link rel=\"canonical\" href=\"{base}{HOSTILE_PATH}\"></head><body><article>"
            f"<h1>{_html(HOSTILE_TITLE)}</h1>{paragraphs}</article></body></html>")


def hostile_feed(base: str) -> str:
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
            f"<title>Herald</title><link>{base}/hostile-herald/</link><description>x</description>"
            f"<item><title>{_html(HOSTILE_TITLE)}</title><link>{base}{HOSTILE_PATH}</link>"
            "<guid isPermaLink=\"false\">herald:1</guid>"
            "<pubDate>Thu, 11 Jun 2026 09:00:00 GMT</pubDate></item></channel></rss>")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@dataclass(frozen=True)
class Filled:
    folder: Path  # config/ and newswatch.duckdb
    base_url: str
    first: tuple[str, ...]  # URL paths of the on-topic articles seen at T0
    off_topic: tuple[str, ...]
    late: str  # URL path of the article seen at T1 only


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    folder = tmp_path_factory.mktemp("digest-warehouse")
    with Newsroom() as room:
        room.add_bad_sources(["server-error"])
        room.set_route(HOSTILE_PATH, body=hostile_page(room.base_url))
        room.set_route(HOSTILE_FEED, body=hostile_feed(room.base_url),
                       content_type="application/rss+xml; charset=utf-8")
        config = room.write_config(folder / "config", folder / "newswatch.duckdb")
        with (config / "sources.toml").open("a", encoding="utf-8") as sources:
            sources.write(f'\n[[outlet]]\nid = "herald"\nname = {_toml(HOSTILE_OUTLET)}\n'
                          f'url_prefixes = ["{room.base_url}/hostile-herald/"]\n'
                          f'\n[[source]]\nid = "herald-feed"\nkind = "feed"\nurl = "{room.url(HOSTILE_FEED)}"\n')
        settings = load_settings(config)
        ingest(settings, T0, force=True)
        room.publish(LATE)
        ingest(settings, T1, force=True)
        live = [a for a in room.articles if not a.late]
        return Filled(folder, room.base_url,
                      tuple(a.path for a in live if a.on_topic) + (HOSTILE_PATH,),
                      tuple(a.path for a in live if not a.on_topic), room.article(LATE).path)


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_config(filled: Filled, tmp: Path, port: int, **digest: Any) -> Path:
    """A copy of the filled warehouse and a configuration sending to 127.0.0.1:port."""
    shutil.copytree(filled.folder / "config", tmp / "config")
    shutil.copy(filled.folder / "newswatch.duckdb", tmp / "newswatch.duckdb")
    table = {"time": "07:00", "timezone": "Europe/London", "recipients": RECIPIENTS,
             "sender": "Newswatch <newswatch@newsroom.test>", "list_id": "digest.newsroom.test", **digest}
    lines = ["[warehouse]", f"path = {_toml(str(tmp / 'newswatch.duckdb'))}", "", "[digest]"]
    lines += [f"{k} = {_value(v)}" for k, v in table.items()]
    lines += ["", "[smtp]", f'host = "{HOST}"', f"port = {port}", 'security = "none"', "timeout = 5",
              'helo_name = "client.newswatch.test"', ""]
    (tmp / "config" / "newswatch.toml").write_text("\n".join(lines), encoding="utf-8")
    return tmp / "config"


def _value(v: Any) -> str:
    return "[" + ", ".join(_toml(x) for x in v) + "]" if isinstance(v, list) else _toml(str(v))


def outbox(config: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(day, recipient) -> outbox row, read straight from the warehouse file."""
    con = duckdb.connect(str(config.parent / "newswatch.duckdb"), read_only=True)
    try:
        cur = con.execute("SELECT * FROM digest_outbox ORDER BY day, recipient")
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
    return {(str(r["day"]), r["recipient"]): r for r in rows}


# ---------------------------------------------------------------- the SMTP server


@dataclass
class Recorder:
    """aiosmtpd handler: answers DATA as told (a reply, "drop" to hang up after the final
    ".", "stall" to never answer), then 250; records every message that reached DATA."""

    script: list[str] = field(default_factory=list)
    received: list[tuple[list[str], bytes]] = field(default_factory=list)  # answered 250
    data_calls: list[bytes] = field(default_factory=list)  # every message that reached DATA

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = bytes(envelope.original_content)
        self.data_calls.append(content)
        step = self.script.pop(0) if self.script else "250 2.0.0 Ok: queued"
        if step == "drop":
            server.transport.close()
        elif step == "stall":
            await asyncio.sleep(30)
        elif step.startswith("250"):
            self.received.append((list(envelope.rcpt_tos), content))
        return step if step[:1].isdigit() else "250 never sent"

    def messages(self) -> list[EmailMessage]:
        return [parse(raw) for _, raw in self.received]


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=default).parsebytes(raw)  # type: ignore[return-value]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, Controller]]:
    handler = Recorder()
    controller = Controller(handler, hostname=HOST, port=free_port(), ready_timeout=5,
                            server_hostname="mx.newsroom.test")
    controller.start()
    yield handler, controller
    controller.stop()


def digest(config: Path, *args: str) -> int:
    return cli.main(["--config", str(config), "digest", *args])


def parts(msg: EmailMessage) -> tuple[str, str]:
    return (msg.get_body(("plain",)).get_content(),  # type: ignore[union-attr]
            msg.get_body(("html",)).get_content())  # type: ignore[union-attr]


# ---------------------------------------------------------------- delivery


def test_send_delivers_the_coverage_once_per_recipient(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller],
        capsys: pytest.CaptureFixture[str]) -> None:
    handler, controller = smtp
    config = make_config(filled, tmp_path, controller.port)
    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_OK
    assert capsys.readouterr().out.count("sent rsi-pause 2026-06-12 to ") == 2
    assert sorted(rcpts for rcpts, _ in handler.received) == [["desk@newsroom.test"], ["editor@newsroom.test"]]
    rows = outbox(config)
    for msg in handler.messages():
        to = msg["To"].addresses[0].addr_spec
        assert msg.get_content_type() == "multipart/alternative" and len(msg["To"].addresses) == 1
        assert msg["Message-ID"] == rows[(DAY0, to)]["message_id"] and rows[(DAY0, to)]["state"] == "sent"
        assert msg["List-Id"] == "<rsi-pause.digest.newsroom.test>" and DAY0 in msg["Subject"]
        assert msg["From"].addresses[0].addr_spec == "newswatch@newsroom.test"
        text, html = parts(msg)
        for path in filled.first:  # every on-topic article, as a story or as a copy of one
            assert path in text and path in html, path
        for path in filled.off_topic + (filled.late,):
            assert path not in text, path
        assert "&lt;script&gt;alert(&#34;pause&#34;)&lt;/script&gt;" in html and "<script" not in html
        assert "Herald &lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>&</b>" not in html
        assert HOSTILE_TITLE in text  # the text part shows it as it is, on one line
    [id_a, id_b] = {m["Message-ID"] for m in handler.messages()}
    assert id_a != id_b  # one message per recipient, each with its own stable id

    # The same date triggered again: nothing more goes out.
    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_OK
    assert capsys.readouterr().out.count("already sent rsi-pause 2026-06-12") == 2
    assert len(handler.data_calls) == 2


def test_headline_counts_match_the_story_views(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller]) -> None:
    handler, controller = smtp
    config = make_config(filled, tmp_path, controller.port, recipients=["desk@newsroom.test"])
    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_OK
    con = duckdb.connect(str(tmp_path / "newswatch.duckdb"), read_only=True)
    articles, copies, outlets = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_copy), count(DISTINCT outlet) FROM story_articles "
        "WHERE story_id = 'rsi-pause' AND NOT is_reference AND first_seen_at <= ?", [T0]).fetchone()
    con.close()
    text, _ = parts(handler.messages()[0])
    assert f"{articles} new articles | {outlets} new outlets | {copies} cop" in text
    assert "reference:" not in text  # the seeds are the yardstick, not news
    assert articles >= len(filled.first) and copies > 0


def test_next_digest_starts_where_the_last_one_ended(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller]) -> None:
    handler, controller = smtp
    config = make_config(filled, tmp_path, controller.port, recipients=["desk@newsroom.test"])
    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_OK
    assert digest(config, "--send", "--date", DAY1) == cli.EXIT_OK
    first, second = (parts(m)[0] for m in handler.messages())
    assert filled.late not in first and filled.late in second
    assert not any(path in second for path in filled.first if path != filled.late)
    rows = outbox(config)
    assert rows[(DAY1, "desk@newsroom.test")]["window_start"] == rows[(DAY0, "desk@newsroom.test")]["window_end"]
    # The feed failing since T0 is listed once it has failed for more than a day.
    assert "bad-server-error" not in first and "bad-server-error" in second


def test_a_missed_day_is_covered_by_the_next_digest(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller]) -> None:
    handler, controller = smtp
    config = make_config(filled, tmp_path, controller.port, recipients=["desk@newsroom.test"])
    assert digest(config, "--send", "--date", DAY1) == cli.EXIT_OK
    [msg] = handler.messages()
    text, _ = parts(msg)
    assert filled.late in text and all(path in text for path in filled.first)


def test_server_down_keeps_the_digest_pending_until_the_next_call(
        filled: Filled, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there yet
    config = make_config(filled, tmp_path, port, recipients=["desk@newsroom.test"])
    assert digest(config, "--send", "--date", DAY0, "--retries", "0") == cli.EXIT_UNDELIVERED
    assert "NOT SENT rsi-pause 2026-06-12 to desk@newsroom.test, still pending" in capsys.readouterr().out
    row = outbox(config)[(DAY0, "desk@newsroom.test")]
    assert row["state"] == "pending" and row["attempts"] == 1 and "connecting" in row["last_error"]
    handler = Recorder()
    controller = Controller(handler, hostname=HOST, port=port, ready_timeout=5, server_hostname="mx.test")
    controller.start()
    try:
        assert digest(config, "--send", "--date", DAY0) == cli.EXIT_OK
    finally:
        controller.stop()
    [msg] = handler.messages()
    assert msg["Message-ID"] == row["message_id"]
    assert outbox(config)[(DAY0, "desk@newsroom.test")]["state"] == "sent"


def test_a_pending_digest_of_an_earlier_day_goes_out_with_the_next_call(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller],
        capsys: pytest.CaptureFixture[str]) -> None:
    handler, controller = smtp
    handler.script = ["451 4.3.0 try again later"]
    config = make_config(filled, tmp_path, controller.port, recipients=["desk@newsroom.test"])
    assert digest(config, "--send", "--date", DAY0, "--retries", "0") == cli.EXIT_UNDELIVERED
    assert "451" in outbox(config)[(DAY0, "desk@newsroom.test")]["last_error"]
    assert digest(config, "--send", "--date", DAY1) == cli.EXIT_OK
    assert [(DAY0 in m["Subject"], DAY1 in m["Subject"]) for m in handler.messages()] == [
        (True, False), (False, True)]
    rows = outbox(config)
    assert rows[(DAY0, "desk@newsroom.test")]["state"] == rows[(DAY1, "desk@newsroom.test")]["state"] == "sent"
    # No overlap: the 13th's digest starts where the pending 12th's ended.
    assert rows[(DAY1, "desk@newsroom.test")]["window_start"] == rows[(DAY0, "desk@newsroom.test")]["window_end"]


def test_a_temporary_4xx_is_retried_within_the_call(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller]) -> None:
    handler, controller = smtp
    handler.script = ["451 4.3.0 try again later", "421 4.7.0 busy"]
    config = make_config(filled, tmp_path, controller.port, recipients=["desk@newsroom.test"])
    waits: list[float] = []
    [outcome] = send_digest(load_settings(config), date(2026, 6, 12), datetime.now(UTC),
                            attempts=3, backoff=2.0, sleep=waits.append)
    assert outcome.state == "sent" and outcome.attempted and waits == [2.0, 4.0]
    assert len(handler.data_calls) == 3 and len(handler.received) == 1
    assert outbox(config)[(DAY0, "desk@newsroom.test")]["attempts"] == 3


def test_a_permanent_refusal_fails_and_waits_for_resend(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller],
        capsys: pytest.CaptureFixture[str]) -> None:
    handler, controller = smtp
    handler.script = ["554 5.7.1 policy says no"]
    config = make_config(filled, tmp_path, controller.port, recipients=["desk@newsroom.test"])
    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_UNDELIVERED
    assert len(handler.data_calls) == 1  # not retried
    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_OK
    assert len(handler.data_calls) == 1 and "failed earlier, not sent again" in capsys.readouterr().out
    assert digest(config, "--send", "--date", DAY0, "--resend") == cli.EXIT_OK
    assert len(handler.received) == 1 and outbox(config)[(DAY0, "desk@newsroom.test")]["state"] == "sent"


def test_connection_dropped_after_data_is_unknown_and_only_resend_sends_again(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller],
        capsys: pytest.CaptureFixture[str]) -> None:
    handler, controller = smtp
    handler.script = ["drop"]  # the first recipient's message; the second one is accepted
    config = make_config(filled, tmp_path, controller.port)
    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_UNDELIVERED
    assert "OUTCOME UNKNOWN" in capsys.readouterr().out
    states = {k[1]: r["state"] for k, r in outbox(config).items()}
    assert sorted(states.values()) == ["sent", "unknown"] and len(handler.data_calls) == 2
    dropped = parse(handler.data_calls[0])

    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_OK  # not re-sent by itself
    assert len(handler.data_calls) == 2
    assert "outcome unknown, not sent again" in capsys.readouterr().out

    assert digest(config, "--send", "--date", DAY0, "--resend") == cli.EXIT_OK
    assert len(handler.data_calls) == 3  # only the unknown one; the sent one is not repeated
    again = parse(handler.data_calls[2])
    assert again["Message-ID"] == dropped["Message-ID"] and again["To"] == dropped["To"]
    assert parts(again) == parts(dropped)  # the very message, so the recipient can drop a twin
    assert {r["state"] for r in outbox(config).values()} == {"sent"}


def test_a_crash_mid_send_leaves_an_unknown_digest(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller],
        capsys: pytest.CaptureFixture[str]) -> None:
    handler, controller = smtp
    handler.script = ["stall"]  # the server never answers the final "."
    config = make_config(filled, tmp_path, controller.port, recipients=["desk@newsroom.test"])
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "--config", str(config), "digest",
                             "--send", "--date", DAY0], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not handler.data_calls and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert handler.data_calls, "the digest never reached DATA"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert outbox(config)[(DAY0, "desk@newsroom.test")]["state"] == "sending"
    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_OK
    assert "outcome unknown, not sent again" in capsys.readouterr().out
    assert len(handler.data_calls) == 1
    assert outbox(config)[(DAY0, "desk@newsroom.test")]["state"] == "unknown"


# ---------------------------------------------------------------- preview, config, daemon


def test_to_file_writes_eml_and_html_and_sends_nothing(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller]) -> None:
    handler, controller = smtp
    config = make_config(filled, tmp_path, controller.port)
    target = tmp_path / "out" / "digest.eml"
    target.parent.mkdir()
    assert digest(config, "--to", str(target), "--date", DAY0) == cli.EXIT_OK
    msg = parse(target.read_bytes())
    text, html = parts(msg)
    # The .eml holds the message as sent (CRLF line ends, RFC 5322); the preview is plain text.
    assert (tmp_path / "out" / "digest.html").read_text(encoding="utf-8") == html.replace("\r\n", "\n")
    assert html.lstrip().lower().startswith("<!doctype html>") and "<img" not in html
    assert all(path in text for path in filled.first)
    assert msg["To"].addresses[0].addr_spec == "editor@newsroom.test"
    assert handler.data_calls == [] and outbox(config) == {}


def test_bad_addresses_stop_before_anything_is_written(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller],
        capsys: pytest.CaptureFixture[str]) -> None:
    handler, controller = smtp
    config = make_config(filled, tmp_path, controller.port,
                         recipients=["desk@newsroom.test", "not an address"], list_id="bad list")
    assert digest(config, "--send", "--date", DAY0) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "digest.recipients 'not an address'" in err and "digest.list_id 'bad list'" in err
    assert handler.data_calls == [] and outbox(config) == {}


def test_the_daemon_sends_the_due_digest_once(
        filled: Filled, tmp_path: Path, smtp: tuple[Recorder, Controller]) -> None:
    handler, controller = smtp
    config = make_config(filled, tmp_path, controller.port, recipients=["desk@newsroom.test"],
                         time="06:30", timezone="America/New_York")
    settings = load_settings(config)
    scheduler = build_scheduler(settings, threading_event(), run_now=False, extra_jobs=cli_digest.daemon_jobs(settings))
    daily = scheduler.get_job("digest")
    after = datetime(2026, 6, 12, 12, 0, tzinfo=UTC)
    fire = daily.trigger.get_next_fire_time(None, after)
    assert fire.astimezone(UTC) == datetime(2026, 6, 13, 10, 30, tzinfo=UTC)  # 06:30 EDT
    daily.func()
    scheduler.get_job("digest-retry").func()  # the hourly catch-up finds nothing left to send
    assert len(handler.received) == 1
    [(key, row)] = outbox(config).items()
    assert row["state"] == "sent" and date.fromisoformat(key[0]) >= date(2026, 6, 13)


def threading_event() -> Any:
    import threading

    return threading.Event()
