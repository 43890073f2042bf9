"""Deliver one ``EmailMessage`` over SMTP, and say precisely how a failure happened.

The transaction is driven step by step (MAIL, RCPT, DATA, body, final reply) instead of
``smtplib.send_message`` so that a lost connection can be placed: before the end of the
message nothing was delivered (safe to retry); after the final "." was sent and before the
server's reply the server may have accepted the message (RFC 5321 section 4.1.1.4 and the
duplicate-message problem of RFC 1047), so the outcome is unknown and it must not be sent
again blindly.

    failure                                   transient  outcome_unknown
    refused / reset / timeout before the end  yes        no
    4xx reply (421, 450, 451, 452, ...)       yes        no
    5xx reply, login refused, TLS not trusted no         no
    connection lost after the final "."       no         yes
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import Callable

from pipeline.errors import MailError

log = logging.getLogger(__name__)

SECURITY_MODES = ("starttls", "tls", "none")
# RFC 5321 section 4.5.3.2.6: wait up to 10 minutes for the reply to the final ".",
# because giving up early is what turns a delivered message into a duplicate.
DATA_TERMINATION_TIMEOUT = 600.0
REPLY_TEXT_MAX = 300


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server. ``password`` comes from the environment (the caller
    resolves it) and is kept out of ``repr``."""

    host: str
    port: int = 587
    security: str = "starttls"  # "starttls" (RFC 3207) | "tls" (implicit, RFC 8314) | "none"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0  # seconds per socket operation
    verify: bool = True  # verify the server certificate and its host name
    ca_file: str | None = None  # extra trust anchor (a private CA, or tests' own CA)
    helo_name: str | None = None  # EHLO name; None lets smtplib use the local FQDN
    data_timeout: float = DATA_TERMINATION_TIMEOUT

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"smtp security {self.security!r} is not one of {SECURITY_MODES}")


def send_message(msg: EmailMessage, settings: SmtpSettings) -> str:
    """Send ``msg`` once to the addresses in its To and Cc headers. Returns the server's
    final reply (``"250 2.0.0 Ok: queued as ..."``); raises ``MailError``."""
    _check_settings(settings)
    sender, recipients = envelope(msg)
    data = wire_bytes(msg)
    smtp = _open(settings)
    try:
        return _transaction(smtp, sender, recipients, data, settings)
    finally:
        _close(smtp)


def deliver(msg: EmailMessage, settings: SmtpSettings, *, attempts: int = 3,
            backoff: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> str:
    """``send_message`` with retries of transient failures, waiting ``backoff``, then
    twice that, and so on. Permanent failures and unknown outcomes are raised at once:
    retrying an unknown outcome could deliver the digest twice."""
    for attempt in range(1, attempts + 1):
        try:
            return send_message(msg, settings)
        except MailError as exc:
            if not exc.transient or exc.outcome_unknown or attempt >= attempts:
                raise
            delay = backoff * 2 ** (attempt - 1)
            log.warning("mail attempt %d/%d failed (%s); retrying in %.1f s",
                        attempt, attempts, exc, delay)
            sleep(delay)
    raise ValueError("attempts must be at least 1")


# ---------------------------------------------------------------- message


def envelope(msg: EmailMessage) -> tuple[str, list[str]]:
    """Envelope sender and recipients taken from From, To and Cc."""
    if msg["Bcc"] is not None:
        # A Bcc header would be sent to every recipient; one message per recipient instead.
        raise ValueError("messages with a Bcc header are not supported")
    senders = [a.addr_spec for a in msg["From"].addresses] if msg["From"] else []
    recipients = [a.addr_spec for name in ("To", "Cc") if msg[name]
                  for a in msg[name].addresses]
    if len(senders) != 1 or not recipients:
        raise ValueError("the message needs one From address and at least one To address")
    if not all(addr.isascii() for addr in senders + recipients):
        # Non-ASCII addresses need SMTPUTF8 (RFC 6531), which this mailer does not speak.
        raise ValueError("non-ASCII e-mail addresses are not supported")
    return senders[0], recipients


def wire_bytes(msg: EmailMessage) -> bytes:
    """The message as sent: CRLF line ends (RFC 5321 section 2.3.8)."""
    return msg.as_bytes(policy=SMTP_POLICY)


def dot_stuffed(data: bytes) -> bytes:
    """``data`` ready to follow DATA: lines starting with "." doubled, then the
    terminating "." line (RFC 5321 section 4.5.2)."""
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


# ---------------------------------------------------------------- connection


def _check_settings(settings: SmtpSettings) -> None:
    if settings.user and settings.password is None:
        raise MailError(f"smtp.user is {settings.user!r} but no password was given",
                        remedy="set the environment variable named by smtp.password_env")
    if settings.user and settings.security == "none":
        raise MailError("refusing to send the SMTP password over an unencrypted connection",
                        remedy='set smtp.security to "starttls" or "tls"')


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """Certificates and host names verified, unless ``verify`` is off."""
    context = ssl.create_default_context(cafile=settings.ca_file)
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _open(settings: SmtpSettings) -> smtplib.SMTP:
    where = f"{settings.host}:{settings.port}"
    try:
        smtp = _connect(settings)
    except (smtplib.SMTPException, OSError) as exc:
        raise failure(exc, f"connecting to {where}") from exc
    try:
        _secure_and_login(smtp, settings)
    except MailError:
        _close(smtp)
        raise
    except (smtplib.SMTPException, OSError) as exc:
        _close(smtp)
        raise failure(exc, f"greeting {where}") from exc
    return smtp


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(settings.host, settings.port, local_hostname=settings.helo_name,
                                timeout=settings.timeout, context=tls_context(settings))
    return smtplib.SMTP(settings.host, settings.port, local_hostname=settings.helo_name,
                        timeout=settings.timeout)


def _secure_and_login(smtp: smtplib.SMTP, settings: SmtpSettings) -> None:
    smtp.ehlo_or_helo_if_needed()
    if settings.security == "starttls":
        if not smtp.has_extn("starttls"):
            # Going on in clear text would silently downgrade (RFC 3207 section 6).
            raise MailError(f"{settings.host}:{settings.port} does not offer STARTTLS",
                            remedy='use the submission port of a server with TLS, or '
                                   'smtp.security = "tls" for port 465')
        smtp.starttls(context=tls_context(settings))
        smtp.ehlo()  # RFC 3207 section 4.2: forget what was learnt before TLS
    if settings.user:
        smtp.login(settings.user, settings.password or "")


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


# ---------------------------------------------------------------- transaction


def _transaction(smtp: smtplib.SMTP, sender: str, recipients: list[str], data: bytes,
                 settings: SmtpSettings) -> str:
    body = dot_stuffed(data)
    # RFC 1870: announce the size so an over-limit server refuses before the transfer.
    options = [f"SIZE={len(body)}"] if smtp.has_extn("size") else []
    _step(smtp, "MAIL FROM", lambda: smtp.mail(sender, options), (250,))
    _recipients(smtp, recipients)
    _step(smtp, "DATA", lambda: smtp.docmd("DATA"), (354,))
    _send_body(smtp, body)
    return _final_reply(smtp, settings)


def _step(smtp: smtplib.SMTP, what: str, command: Callable[[], tuple[int, bytes]],
          ok: tuple[int, ...]) -> None:
    try:
        code, text = command()
    except (smtplib.SMTPException, OSError) as exc:
        raise failure(exc, what) from exc
    if code not in ok:
        raise reply_error(code, text, what)


def _recipients(smtp: smtplib.SMTP, recipients: list[str]) -> None:
    # Any refused recipient aborts the whole transaction before DATA, so nothing was
    # delivered and the message can be retried as a whole (an outbox row per recipient).
    for rcpt in recipients:
        _step(smtp, f"RCPT TO {rcpt}", lambda: smtp.rcpt(rcpt), (250, 251))


def _send_body(smtp: smtplib.SMTP, body: bytes) -> None:
    try:
        smtp.send(body)
    except (smtplib.SMTPException, OSError) as exc:
        # sendall() failed, so the final "." did not leave this host: not delivered.
        raise MailError(f"connection lost while sending the message: {exc}",
                        transient=True) from exc


def _final_reply(smtp: smtplib.SMTP, settings: SmtpSettings) -> str:
    if smtp.sock is not None:
        smtp.sock.settimeout(max(settings.timeout, settings.data_timeout))
    try:
        code, text = smtp.getreply()
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"connection lost after the message was sent, before the server "
                        f"replied: it may or may not have been delivered ({exc})",
                        outcome_unknown=True,
                        remedy="check the recipient's mailbox before sending it again") from exc
    if code != 250:
        raise reply_error(code, text, "end of DATA")
    return f"{code} {_text(text)}"


# ---------------------------------------------------------------- classification


def reply_error(code: int, text: bytes | str, what: str) -> MailError:
    """A negative SMTP reply: 4xx transient, 5xx (and anything odd) permanent
    (RFC 5321 section 4.2.1)."""
    transient = 400 <= code < 500
    remedy = None if transient else "the server refused the message; see its reply"
    return MailError(f"{what}: server replied {code} {_text(text)}",
                     transient=transient, remedy=remedy)


def failure(exc: BaseException, doing: str) -> MailError:
    """A ``MailError`` for an exception raised before the message's end was sent."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailError(f"{doing}: TLS certificate not trusted: {exc.verify_message}",
                         remedy="check smtp.host matches the certificate; for a private "
                                "CA set ca_file")
    if isinstance(exc, ssl.SSLError):
        return MailError(f"{doing}: TLS failed: {exc}",
                         remedy='check smtp.security ("tls" for port 465, "starttls" for 587)')
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        error = reply_error(exc.smtp_code, exc.smtp_error, f"{doing}: login")
        error.remedy = None if error.transient else "check smtp.user and the password"
        return error
    if isinstance(exc, smtplib.SMTPResponseException):
        return reply_error(exc.smtp_code, exc.smtp_error, doing)
    if isinstance(exc, (smtplib.SMTPServerDisconnected, OSError)):
        # Refused, reset, timed out, name not resolved: the network may come back.
        return MailError(f"{doing}: {type(exc).__name__}: {exc}", transient=True)
    return MailError(f"{doing}: {type(exc).__name__}: {exc}")


def _text(text: bytes | str) -> str:
    value = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    value = " ".join(value.split())
    return value[:REPLY_TEXT_MAX]
