"""The exception tree of newswatch.

Every error carries what it was about (a URL, a file, a key) and can say how to fix it.
Errors about one source never stop a run; errors about the configuration or the warehouse
stop the job before it starts.

    NewswatchError                  base of everything raised on purpose
    ├── ConfigError                 one or more problems in config/*.toml (all listed at once)
    ├── StoreError                  the warehouse cannot be opened, migrated or written
    │   └── LockedError             another writing job holds the warehouse
    ├── SourceError                 one source failed; the run goes on
    │   ├── FetchError              HTTP-level failure, with a ``kind``:
    │   │       network      DNS, refused, reset, TLS           (transient)
    │   │       timeout      connect or total deadline passed   (transient)
    │   │       http         4xx / 5xx status                   (5xx and 429 transient)
    │   │       too_large    body over the cap (declared or decoded)
    │   │       redirects    more redirects than allowed, or a bad redirect
    │   │       blocked      address not allowed (private, loopback, ...) or robots.txt
    │   │       bad_url      not an http(s) URL, too long, ...
    │   │       internal     anything else a poll raised (jobs records it; a bug to fix)
    │   └── ParseError              the document is not a feed / sitemap we can read
    │                           (kind "too_large": over an item, JSON or time budget)
    ├── ExtractError                an article page gave no usable text (``reason``)
    └── MailError                   the digest could not be delivered
"""

from __future__ import annotations


class NewswatchError(Exception):
    """Base class. ``remedy`` says how to fix it, when we know."""

    remedy: str | None = None

    def __init__(self, message: str, *, remedy: str | None = None) -> None:
        super().__init__(message)
        if remedy is not None:
            self.remedy = remedy

    def describe(self) -> str:
        text = str(self)
        return f"{text}\n  hint: {self.remedy}" if self.remedy else text


class ConfigError(NewswatchError):
    """Problems found in the configuration, all of them at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"configuration has {len(self.problems)} problem(s):\n{lines}")


class StoreError(NewswatchError):
    """The warehouse cannot be opened, migrated or read."""


class LockedError(StoreError):
    """Another writing job (``newswatch run``, the daemon, a digest) holds the warehouse."""

    remedy = "wait for the running job to finish, or stop it; the lock frees itself when it exits"


class SourceError(NewswatchError):
    """One source (feed, sitemap, page) failed. Carries the URL and an error kind."""

    kind = "error"
    transient = False

    def __init__(self, url: str, message: str, *, kind: str | None = None,
                 transient: bool | None = None, remedy: str | None = None) -> None:
        self.url = url
        if kind is not None:
            self.kind = kind
        if transient is not None:
            self.transient = transient
        super().__init__(message, remedy=remedy)


class FetchError(SourceError):
    """An HTTP-level failure. ``kind`` is one of the kinds in the module docstring."""

    kind = "network"

    def __init__(self, url: str, message: str, *, kind: str, status: int | None = None,
                 transient: bool | None = None, retry_after: float | None = None,
                 remedy: str | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        if transient is None:
            transient = kind in ("network", "timeout") or (
                kind == "http" and status is not None and (status >= 500 or status == 429))
        super().__init__(url, message, kind=kind, transient=transient, remedy=remedy)


class ParseError(SourceError):
    """The document could not be read as a feed, sitemap or result list."""

    kind = "parse"


class ExtractError(NewswatchError):
    """An article page gave no usable text. ``reason`` is a short machine-readable word."""

    def __init__(self, url: str, reason: str, message: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(message)


class MailError(NewswatchError):
    """The digest could not be delivered. ``transient`` tells a retry may help;
    ``outcome_unknown`` tells the server may have accepted it (connection lost after DATA)."""

    def __init__(self, message: str, *, transient: bool = False,
                 outcome_unknown: bool = False, remedy: str | None = None) -> None:
        self.transient = transient
        self.outcome_unknown = outcome_unknown
        super().__init__(message, remedy=remedy)
