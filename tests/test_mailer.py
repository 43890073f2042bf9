"""The mailer against real aiosmtpd servers on 127.0.0.1 (plain, STARTTLS, implicit TLS)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline.deliver.digest import ClusterItem, DigestData, render_digest
from pipeline.deliver.mailer import SmtpSettings, deliver, dot_stuffed, send_message
from pipeline.errors import MailError

HOST = "127.0.0.1"
HELO = "client.newswatch.test"  # given so that neither side looks up its own FQDN
UTC = timezone.utc


# ---------------------------------------------------------------- servers


@dataclass
class Recorder:
    """An aiosmtpd handler that records what it got and answers DATA as told."""

    replies: list[str] = field(default_factory=list)  # answers to successive DATA; then 250
    drop_after_data: bool = False
    data_calls: int = 0
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    tls_seen: list[bool] = field(default_factory=list)
    logins: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        self.tls_seen.append(session.ssl is not None)
        if self.drop_after_data:
            # The whole message and its final "." arrived; hang up without a reply.
            server.transport.close()
            return "250 never sent"
        reply = self.replies.pop(0) if self.replies else "250 2.0.0 Ok: queued as T35T1D"
        if reply.startswith("250"):
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  bytes(envelope.original_content)))
        return reply

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == (b"digest", b"s3cret")
        if ok:
            self.logins.append(auth_data.login)
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535


def free_port() -> int:
    """A port nothing listens on: bound by us, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start(handler: Recorder, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname=HOST, port=free_port(),
                            server_hostname="mx.newswatch.test", ready_timeout=5, **kwargs)
    controller.start()
    return controller


@pytest.fixture
def server() -> Iterator[tuple[Recorder, Controller]]:
    handler = Recorder()
    controller = start(handler)
    yield handler, controller
    controller.stop()


def plain(controller: Controller, **changes: Any) -> SmtpSettings:
    values: dict[str, Any] = dict(host=HOST, port=controller.port, security="none",
                                  timeout=5.0, helo_name=HELO)
    values.update(changes)
    return SmtpSettings(**values)


# ---------------------------------------------------------------- messages


def digest(title: str = "Lab weighs a pause", recipient: str = "reader@example.com") -> EmailMessage:
    data = DigestData(
        story_id="rsi-pause", story_name="When AI builds itself", date=date(2026, 6, 5),
        window_start=datetime(2026, 6, 4, 7, tzinfo=UTC),
        window_end=datetime(2026, 6, 5, 7, tzinfo=UTC),
        new_articles=3, new_outlets=1, copies_carried=1,
        clusters=[ClusterItem(title, "The Left Shift", "https://leftshift.example/a", 2,
                              [("Wire", "https://wire.example/b")]),
                  ClusterItem("<script>alert(1)</script>", "Evil", "https://evil.example/", 1),
                  ClusterItem("x" * 5000, "Long", None, 1)],
        by_outlet=[("The Left Shift", 2), ("Wire", 1)],
        daily=[(date(2026, 6, 5), 3)],
    )
    return render_digest(data, sender="newswatch@example.org", recipient=recipient,
                         list_id="lists.example.org")


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=default).parsebytes(raw)  # type: ignore[return-value]


# ---------------------------------------------------------------- delivery


def test_delivered_digest_parses_back_whole(server: tuple[Recorder, Controller]) -> None:
    handler, controller = server
    msg = digest(title="Pause?\r\nBcc: victim@example.com")
    reply = send_message(msg, plain(controller))
    assert reply.startswith("250") and "T35T1D" in reply
    [(mail_from, rcpts, raw)] = handler.received
    assert mail_from == "newswatch@example.org" and rcpts == ["reader@example.com"]
    got = parse(raw)
    assert got["Message-ID"] == msg["Message-ID"] == digest()["Message-ID"]
    assert got["List-Id"] == "<rsi-pause.lists.example.org>"
    assert got["Bcc"] is None and "\n" not in got["Subject"] and "\r" not in got["Subject"]
    text = got.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = got.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Pause? Bcc: victim@example.com" in text and "Pause? Bcc: victim@example.com" in html
    assert "&lt;script&gt;" in html and "<script" not in html.lower() and "<img" not in html
    assert "x" * 300 not in text and "x" * 300 not in html


def test_lines_starting_with_a_dot_survive_transparency(server: tuple[Recorder, Controller]) -> None:
    handler, controller = server
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.com", "dots"
    msg.set_content(".\n..two\n.end\n")
    send_message(msg, plain(controller))
    assert parse(handler.received[0][2]).get_content().splitlines() == [".", "..two", ".end"]


def test_dot_stuffing_doubles_leading_dots_and_terminates() -> None:
    assert dot_stuffed(b"a\n.b\r\n..c") == b"a\r\n..b\r\n...c\r\n.\r\n"


def test_451_is_retried_then_delivered(server: tuple[Recorder, Controller]) -> None:
    handler, controller = server
    handler.replies = ["451 4.3.0 Try again later"]
    sleeps: list[float] = []
    reply = deliver(digest(), plain(controller), attempts=3, backoff=0.25, sleep=sleeps.append)
    assert reply.startswith("250")
    assert handler.data_calls == 2 and len(handler.received) == 1
    assert sleeps == [0.25]


def test_transient_failures_back_off_and_give_up(server: tuple[Recorder, Controller]) -> None:
    handler, controller = server
    handler.replies = ["421 4.7.0 busy"] * 3
    sleeps: list[float] = []
    with pytest.raises(MailError) as caught:
        deliver(digest(), plain(controller), attempts=3, backoff=0.5, sleep=sleeps.append)
    assert caught.value.transient and "421" in str(caught.value)
    assert handler.data_calls == 3 and sleeps == [0.5, 1.0]


def test_550_is_permanent_and_not_retried(server: tuple[Recorder, Controller]) -> None:
    handler, controller = server
    handler.replies = ["550 5.7.1 Rejected as spam"]
    sleeps: list[float] = []
    with pytest.raises(MailError) as caught:
        deliver(digest(), plain(controller), attempts=3, backoff=0.1, sleep=sleeps.append)
    assert not caught.value.transient and not caught.value.outcome_unknown
    assert "550 5.7.1 Rejected as spam" in str(caught.value)
    assert handler.data_calls == 1 and sleeps == []


def test_server_down_is_transient() -> None:
    settings = SmtpSettings(host=HOST, port=free_port(), security="none", timeout=2.0,
                            helo_name=HELO)
    sleeps: list[float] = []
    with pytest.raises(MailError) as caught:
        deliver(digest(), settings, attempts=2, backoff=0.1, sleep=sleeps.append)
    assert caught.value.transient and not caught.value.outcome_unknown
    assert "connecting to" in str(caught.value)
    assert sleeps == [0.1]  # it was retried once


def test_drop_after_data_is_outcome_unknown_and_not_retried(
        server: tuple[Recorder, Controller]) -> None:
    handler, controller = server
    handler.drop_after_data = True
    sleeps: list[float] = []
    with pytest.raises(MailError) as caught:
        deliver(digest(), plain(controller), attempts=3, backoff=0.1, sleep=sleeps.append)
    assert caught.value.outcome_unknown and not caught.value.transient
    assert handler.data_calls == 1 and sleeps == []


def test_refused_recipient_stops_before_data() -> None:
    class Refuser(Recorder):
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                              rcpt_options: list[str]) -> str:
            return "550 5.1.1 No such user"

    handler = Refuser()
    controller = start(handler)
    try:
        with pytest.raises(MailError) as caught:
            send_message(digest(), plain(controller))
    finally:
        controller.stop()
    assert not caught.value.transient and "RCPT TO reader@example.com" in str(caught.value)
    assert handler.data_calls == 0


def test_password_is_never_sent_in_clear_and_never_shown() -> None:
    settings = SmtpSettings(host=HOST, port=free_port(), security="none", user="digest",
                            password="s3cret", helo_name=HELO)
    assert "s3cret" not in repr(settings)
    with pytest.raises(MailError) as caught:
        send_message(digest(), settings)
    assert "unencrypted" in str(caught.value) and not caught.value.transient


def test_user_without_password_is_refused() -> None:
    settings = SmtpSettings(host=HOST, port=free_port(), user="digest", helo_name=HELO)
    with pytest.raises(MailError, match="no password"):
        send_message(digest(), settings)


def test_unknown_security_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        SmtpSettings(host=HOST, security="ssl")


def test_starttls_required_but_not_offered(server: tuple[Recorder, Controller]) -> None:
    handler, controller = server
    with pytest.raises(MailError) as caught:
        send_message(digest(), plain(controller, security="starttls"))
    assert "does not offer STARTTLS" in str(caught.value) and not caught.value.transient
    assert handler.data_calls == 0


# ---------------------------------------------------------------- TLS


@dataclass(frozen=True)
class Certs:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, pem = directory / f"{name}.key", directory / f"{name}.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", pem, "-days", "2", "-subj", f"/CN=newswatch test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, pem


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A throwaway CA and a server certificate for 127.0.0.1, made with the openssl
    command (no extra Python dependency), plus a second CA that signed nothing."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    d = tmp_path_factory.mktemp("certs")
    ca_key, ca = make_ca(d, "ca")
    _, other = make_ca(d, "other-ca")
    ext = d / "server.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n"
                   "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", d / "server.key", "-out", d / "server.csr", "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", d / "server.csr", "-CA", ca, "-CAkey", ca_key,
            "-CAcreateserial", "-out", d / "server.pem", "-days", "2", "-extfile", ext)
    return Certs(ca, other, d / "server.pem", d / "server.key")


def server_context(certs: Certs) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.cert, certs.key)
    return context


@pytest.fixture
def tls_server(certs: Certs) -> Iterator[tuple[Recorder, Controller]]:
    handler = Recorder()
    # require_starttls: the server refuses MAIL before STARTTLS, so a delivery proves TLS.
    controller = start(handler, tls_context=server_context(certs), require_starttls=True,
                       authenticator=handler.authenticate)
    yield handler, controller
    controller.stop()


def test_starttls_with_verified_certificate_and_login(
        tls_server: tuple[Recorder, Controller], certs: Certs) -> None:
    handler, controller = tls_server
    settings = plain(controller, security="starttls", ca_file=str(certs.ca),
                     user="digest", password="s3cret")
    assert send_message(digest(), settings).startswith("250")
    assert handler.tls_seen == [True] and handler.logins == [b"digest"]
    assert parse(handler.received[0][2])["Message-ID"] == digest()["Message-ID"]


def test_starttls_with_untrusted_certificate_fails(
        tls_server: tuple[Recorder, Controller], certs: Certs) -> None:
    handler, controller = tls_server
    settings = plain(controller, security="starttls", ca_file=str(certs.other_ca))
    sleeps: list[float] = []
    with pytest.raises(MailError) as caught:
        deliver(digest(), settings, attempts=3, sleep=sleeps.append)
    assert "certificate" in str(caught.value) and not caught.value.transient
    assert handler.data_calls == 0 and sleeps == []


def test_wrong_password_is_permanent(tls_server: tuple[Recorder, Controller], certs: Certs) -> None:
    handler, controller = tls_server
    settings = plain(controller, security="starttls", ca_file=str(certs.ca),
                     user="digest", password="wrong")
    with pytest.raises(MailError) as caught:
        send_message(digest(), settings)
    assert "login" in str(caught.value) and "535" in str(caught.value)
    assert not caught.value.transient and handler.data_calls == 0


def test_implicit_tls(certs: Certs) -> None:
    handler = Recorder()
    controller = start(handler, ssl_context=server_context(certs))
    try:
        reply = send_message(digest(), plain(controller, security="tls", ca_file=str(certs.ca)))
        with pytest.raises(MailError, match="certificate"):
            send_message(digest(), plain(controller, security="tls", ca_file=str(certs.other_ca)))
    finally:
        controller.stop()
    assert reply.startswith("250") and len(handler.received) == 1
