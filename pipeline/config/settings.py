"""Load and validate the configuration folder, reporting every problem at once.

The folder holds ``newswatch.toml`` (how the machine runs), ``sources.toml`` (what it
watches) and ``stories/<id>.toml`` (what it looks for). Paths inside are relative to the
folder, so an installed newswatch runs from cron in any directory.

Each setting is declared once below with its type, default and help (datasette's
``SETTINGS`` habit); the same table validates, fills defaults and prints the effective
settings with secrets masked.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote_plus, urlsplit

from pipeline.config import addresses
from pipeline.config import stories as story_defs
from pipeline.config.references import read_reference_set
from pipeline.errors import ConfigError

ENV_CONFIG = "NEWSWATCH_CONFIG"
SOURCE_KINDS = ("feed", "search", "sitemap", "page")
DEFAULT_USER_AGENT = "newswatch/0.1 (+https://github.com/newswatch/newswatch; news monitoring)"


@dataclass(frozen=True)
class Setting:
    """One key of newswatch.toml: its type check, default and help."""

    kind: str  # "str", "int", "float", "seconds" (0 or more), "bool", "list[str]", "cidrs", "time", "tz"
    default: Any
    help: str
    secret: bool = False


# section -> key -> Setting. The example config and `newswatch config` come from here.
SETTINGS: dict[str, dict[str, Setting]] = {
    "warehouse": {
        "path": Setting("str", "../warehouse/newswatch.duckdb",
                        "DuckDB file, relative to the config folder"),
        "memory_limit": Setting("memory", "",
                                "most memory DuckDB may use in a job, e.g. \"1GB\" (\"\": DuckDB's default, "
                                "80 % of RAM); its indexes must fit, about 320 MiB per million articles"),
    },
    "http": {
        "user_agent": Setting("str", DEFAULT_USER_AGENT, "User-Agent sent with every request"),
        "connect_timeout": Setting("float", 10.0, "seconds to establish a connection"),
        "feed_timeout": Setting("float", 20.0, "total deadline for one feed request, seconds"),
        "page_timeout": Setting("float", 30.0, "total deadline for one article page, seconds"),
        "max_body_bytes": Setting("int", 15 * 1024 * 1024,
                                  "largest body accepted, counted after decompression"),
        "max_redirects": Setting("int", 5, "redirects followed, each re-checked"),
        "allow_networks": Setting("cidrs", [],
                                  "non-public networks that may be fetched (CIDR list); "
                                  "loopback, private and link-local are refused otherwise"),
        "max_pages_per_source": Setting("int", 200, "new article pages fetched per source per run"),
        "concurrency": Setting("int", 8, "sources polled at once (1: one after another)"),
        "host_delay": Setting("seconds", 0.0, "seconds between two requests to the same host "
                              "(never more than one at a time)"),
    },
    "extract": {
        "workers": Setting("int", os.cpu_count() or 1,
                           "extraction processes (default: the number of cores; 1: one page at a time)"),
    },
    "schedule": {
        "interval_minutes": Setting("int", 30, "daemon: minutes between ingest runs"),
        "min_poll_minutes": Setting("int", 15, "a source is not polled more often than this"),
        "max_poll_minutes": Setting("int", 60, "longest pause between polls of a quiet source "
                                    "(intervals adapt between min_poll_minutes and this)"),
        "max_backoff_hours": Setting("float", 24.0, "longest pause after repeated failures"),
    },
    "backfill": {
        "shards": Setting("str", "../warehouse/backfill",
                          "folder of backfill's Parquet shards and manifests, relative to the config "
                          "folder; on a cluster, a folder every worker can write"),
        "workers": Setting("int", 0, "processes of the local pool; 0: one per core"),
        "scheduler": Setting("str", "", "Dask scheduler address (tcp://host:8786); empty: local pool"),
    },
    "digest": {
        "time": Setting("time", "07:00", "daemon: local time the daily digest is sent (HH:MM)"),
        "timezone": Setting("tz", "UTC", "IANA timezone of the digest time and its day"),
        "recipients": Setting("list[str]", [], "addresses the digest goes to"),
        "sender": Setting("str", "newswatch@localhost", "From: address of the digest"),
        "list_id": Setting("str", "newswatch.localhost", "List-Id domain of the digest"),
    },
    "smtp": {
        "host": Setting("str", "localhost", "SMTP server"),
        "port": Setting("int", 587, "SMTP port"),
        "security": Setting("str", "starttls", "starttls, tls (implicit) or none"),
        "user": Setting("str", "", "login user; empty for no login"),
        "password_env": Setting("str", "NEWSWATCH_SMTP_PASSWORD",
                                "environment variable that holds the SMTP password"),
        "timeout": Setting("float", 30.0, "seconds per SMTP operation"),
        "ca_file": Setting("str", "", "extra CA bundle to verify the server with (optional)"),
        "helo_name": Setting("str", "", "name given in EHLO; empty: this machine's name"),
    },
}


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    domains: tuple[str, ...] = ()
    url_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceDef:
    id: str
    kind: str
    url: str
    outlet: str | None = None
    story: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything a job needs, validated, with paths made absolute."""

    config_dir: Path
    values: dict[str, dict[str, Any]]
    outlets: tuple[Outlet, ...]
    sources: tuple[SourceDef, ...]
    stories: tuple[Any, ...] = field(default=())  # config.stories.StoryDef

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    @property
    def warehouse_path(self) -> Path:
        return (self.config_dir / self.get("warehouse", "path")).resolve()

    @property
    def warehouse_memory_limit(self) -> str | None:
        return self.get("warehouse", "memory_limit") or None

    @property
    def allow_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(c, strict=False) for c in self.get("http", "allow_networks"))

    def story(self, story_id: str) -> Any:
        for s in self.stories:
            if s.id == story_id:
                return s
        raise KeyError(story_id)


def outlet_slug(name: str) -> str:
    """An outlet id made from a name: ASCII letters and digits joined by "-"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def resolve_config_dir(arg: str | None) -> Path:
    """--config wins, then $NEWSWATCH_CONFIG, then ./config."""
    chosen = arg or os.environ.get(ENV_CONFIG) or "config"
    return Path(chosen).expanduser().resolve()


def load_settings(config_dir: Path) -> Settings:
    """Read and validate the whole folder; raise ConfigError listing every problem."""
    problems: list[str] = []
    if not config_dir.is_dir():
        raise ConfigError([f"{config_dir}: configuration folder not found "
                           f"(use --config DIR or ${ENV_CONFIG})"])
    main = _read_toml(config_dir / "newswatch.toml", problems, required=False)
    values = _validate_settings(main, "newswatch.toml", problems)
    sources_doc = _read_toml(config_dir / "sources.toml", problems, required=True)
    outlets = _parse_outlets(sources_doc, problems)
    stories = _load_stories(config_dir, problems)
    sources = _parse_sources(sources_doc, outlets, stories, problems)
    if problems:
        raise ConfigError(problems)
    return Settings(config_dir, values, outlets, sources, stories)


def _read_toml(path: Path, problems: list[str], *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            problems.append(f"{path.name}: file not found in {path.parent}")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: not valid TOML: {exc}")
        return {}


def _validate_settings(doc: dict[str, Any], fname: str, problems: list[str]) -> dict[str, dict[str, Any]]:
    values = {sec: {k: s.default for k, s in keys.items()} for sec, keys in SETTINGS.items()}
    for section, table in doc.items():
        if section not in SETTINGS:
            problems.append(f"{fname}: unknown section [{section}] (expected one of "
                            f"{', '.join(SETTINGS)})")
            continue
        if not isinstance(table, dict):
            problems.append(f"{fname}: [{section}] must be a table")
            continue
        for key, raw in table.items():
            spec = SETTINGS[section].get(key)
            if spec is None:
                problems.append(f"{fname}: unknown key {section}.{key} (expected one of "
                                f"{', '.join(SETTINGS[section])})")
                continue
            error = _CHECKS[spec.kind](raw)
            if error:
                problems.append(f"{fname}: {section}.{key} = {raw!r}: {error}")
            else:
                values[section][key] = raw
    _cross_checks(values, fname, problems)
    return values


def _check_str(v: Any) -> str | None:
    return None if isinstance(v, str) else "expected a string"


def _check_int(v: Any) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and v > 0
    return None if ok else "expected a positive whole number"


def _check_float(v: Any) -> str | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
    return None if ok else "expected a positive number"


def _check_seconds(v: Any) -> str | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
    return None if ok else "expected a number of seconds, 0 or more"


def _check_bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "expected true or false"


def _check_strs(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
    return None if ok else "expected a list of strings"


def _check_memory(v: Any) -> str | None:
    ok = isinstance(v, str) and (v == "" or re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", v.strip()))
    return None if ok else "expected an amount of memory such as \"512MB\" or \"2GB\", or \"\" for DuckDB's default"


def _check_cidrs(v: Any) -> str | None:
    if _check_strs(v):
        return "expected a list of CIDR strings such as \"127.0.0.0/8\""
    for item in v:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            return f"{item!r} is not a network in CIDR form (e.g. \"10.0.0.0/8\")"
    return None


def _check_time(v: Any) -> str | None:
    try:
        hh, mm = str(v).split(":")
        ok = isinstance(v, str) and 0 <= int(hh) < 24 and 0 <= int(mm) < 60
    except ValueError:
        ok = False
    return None if ok else "expected a time of day as \"HH:MM\""


def _check_tz(v: Any) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(str(v))
        return None if isinstance(v, str) else "expected an IANA timezone name"
    except (ZoneInfoNotFoundError, ValueError):
        return "expected an IANA timezone name such as \"Europe/London\""


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "str": _check_str, "int": _check_int, "float": _check_float, "seconds": _check_seconds,
    "bool": _check_bool,
    "list[str]": _check_strs, "cidrs": _check_cidrs, "time": _check_time, "tz": _check_tz,
    "memory": _check_memory,
}


def _cross_checks(values: dict[str, dict[str, Any]], fname: str, problems: list[str]) -> None:
    if values["smtp"]["security"] not in ("starttls", "tls", "none"):
        problems.append(f"{fname}: smtp.security = {values['smtp']['security']!r}: "
                        "expected \"starttls\", \"tls\" or \"none\"")
    problems.extend(f"{fname}: {p}" for p in _digest_address_problems(values["digest"]))


def _digest_address_problems(digest: dict[str, Any]) -> list[str]:
    """The checks the digest renderer and the mailer apply, made at load time so a bad
    address stops the job before an outbox row is written."""
    problems = []
    for key, value in [("sender", digest["sender"])] + [("recipients", r) for r in digest["recipients"]]:
        try:
            address = addresses.address(value, f"digest.{key}")
            if key == "sender":
                addresses.domain(address.domain, "digest.sender: its domain (used in Message-ID)")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if not address.addr_spec.isascii():
            problems.append(f"digest.{key}: {value!r}: non-ASCII addresses need SMTPUTF8, not supported")
    try:
        addresses.domain(digest["list_id"], "digest.list_id")
    except ValueError as exc:
        problems.append(str(exc))
    return problems


_OUTLET_KEYS = {"id", "name", "domains", "url_prefixes"}
_SOURCE_KEYS = {"id", "kind", "url", "outlet", "story", "name"}


def _parse_outlets(doc: dict[str, Any], problems: list[str]) -> tuple[Outlet, ...]:
    outlets: list[Outlet] = []
    for i, raw in enumerate(doc.get("outlet", [])):
        where = f"sources.toml: outlet #{i + 1}"
        if not _known_keys(raw, _OUTLET_KEYS, where, problems):
            continue
        oid = raw.get("id")
        if not isinstance(oid, str) or not oid:
            problems.append(f"{where}: key id: expected a non-empty string")
            continue
        domains = raw.get("domains", [])
        prefixes = raw.get("url_prefixes", [])
        for key, val in (("domains", domains), ("url_prefixes", prefixes)):
            if _check_strs(val):
                problems.append(f"{where} ({oid}): key {key}: expected a list of strings")
        name = raw.get("name", oid)
        outlets.append(Outlet(oid, str(name), tuple(d.lower() for d in domains if isinstance(d, str)),
                              tuple(p for p in prefixes if isinstance(p, str))))
    _no_duplicate_ids([o.id for o in outlets], "outlet", problems)
    return tuple(outlets)


def _parse_sources(doc: dict[str, Any], outlets: tuple[Outlet, ...], stories: tuple[Any, ...],
                   problems: list[str]) -> tuple[SourceDef, ...]:
    unknown_sections = set(doc) - {"outlet", "source"}
    for name in sorted(unknown_sections):
        problems.append(f"sources.toml: unknown key {name!r} (expected [[outlet]] and [[source]] tables)")
    outlet_ids = {o.id for o in outlets}
    story_ids = {s.id for s in stories}
    sources = [s for i, raw in enumerate(doc.get("source", []))
               if (s := _parse_source(i, raw, outlet_ids, story_ids, problems))]
    _no_duplicate_ids([s.id for s in sources], "source", problems)
    return tuple(_with_queries(sources, stories))


def _parse_source(i: int, raw: Any, outlet_ids: set[str], story_ids: set[str],
                  problems: list[str]) -> SourceDef | None:
    where = f"sources.toml: source #{i + 1}"
    if not _known_keys(raw, _SOURCE_KEYS, where, problems):
        return None
    sid, kind, url = raw.get("id"), raw.get("kind", "feed"), raw.get("url")
    before = len(problems)
    if not isinstance(sid, str) or not sid:
        problems.append(f"{where}: key id: expected a non-empty string")
    where = f"sources.toml: source {sid!r}" if isinstance(sid, str) and sid else where
    if kind not in SOURCE_KINDS:
        problems.append(f"{where}: key kind = {kind!r}: expected one of {', '.join(SOURCE_KINDS)}")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        problems.append(f"{where}: key url = {url!r}: expected an absolute http(s) URL")
    if raw.get("outlet") is not None and raw.get("outlet") not in outlet_ids:
        problems.append(f"{where}: key outlet = {raw.get('outlet')!r}: no [[outlet]] has that id")
    if raw.get("story") is not None and raw.get("story") not in story_ids:
        problems.append(f"{where}: key story = {raw.get('story')!r}: no story with that id in stories/")
    if kind == "search" and "{query}" in str(url) and raw.get("story") is None:
        problems.append(f"{where}: a search URL with {{query}} needs key story")
    if len(problems) > before:
        return None
    return SourceDef(sid, kind, url, raw.get("outlet"), raw.get("story"), raw.get("name"))


def _with_queries(sources: list[SourceDef], stories: tuple[Any, ...]) -> list[SourceDef]:
    """Search URLs get their story's query, URL-encoded, in place of {query}."""
    queries = {s.id: getattr(s, "query", "") or s.name for s in stories}
    return [replace(s, url=s.url.replace("{query}", quote_plus(queries[s.story])))
            if s.story and "{query}" in s.url else s for s in sources]


def _known_keys(raw: Any, allowed: set[str], where: str, problems: list[str]) -> bool:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table")
        return False
    for key in sorted(set(raw) - allowed):
        problems.append(f"{where}: unknown key {key!r} (expected one of {', '.join(sorted(allowed))})")
    return True


def _no_duplicate_ids(ids: list[str], what: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            problems.append(f"sources.toml: {what} id {i!r} is used twice")
        seen.add(i)


def _load_stories(config_dir: Path, problems: list[str]) -> tuple[Any, ...]:
    stories = []
    for path in sorted((config_dir / "stories").glob("*.toml")):
        doc = _read_toml(path, problems, required=True)
        if not doc:
            continue
        parsed, errs = story_defs.parse_story(doc, f"stories/{path.name}")
        problems.extend(errs)
        if parsed is not None:
            _check_reference(config_dir, path.name, parsed.reference, problems)
            stories.append(parsed)
    _no_duplicate_ids([s.id for s in stories], "story", problems)
    return tuple(stories)


def _check_reference(config_dir: Path, fname: str, reference: str, problems: list[str]) -> None:
    """The reference set is read by every run: a missing folder or a bad manifest is a
    configuration problem, reported with the others before any job starts."""
    try:
        read_reference_set((config_dir / reference).resolve())
    except ConfigError as exc:
        problems.extend(f"stories/{fname}: key reference = {reference!r} (a folder of .txt articles, "
                        f"relative to the config folder): {p}" for p in exc.problems)


def reference_dir(settings: Settings, story: Any) -> Path:
    """The folder of a story's reference articles, relative to the config folder."""
    return (settings.config_dir / story.reference).resolve()


def counter_reference_dir(settings: Settings, story: Any) -> Path | None:
    """The folder of a story's counter-examples, or None when it names none."""
    folder = getattr(story, "counter_reference", None)
    return (settings.config_dir / folder).resolve() if folder else None


def effective_settings(settings: Settings) -> str:
    """The settings in force as TOML-like text, secrets masked."""
    lines = [f"# config folder: {settings.config_dir}"]
    for section, keys in SETTINGS.items():
        lines.append(f"\n[{section}]")
        for key, spec in keys.items():
            value = settings.values[section][key]
            lines.append(f"{key} = {_show(value, spec.secret)}    # {spec.help}")
    pw_env = settings.get("smtp", "password_env")
    lines.append(f"# smtp password: {'set' if os.environ.get(pw_env) else 'not set'} (from ${pw_env}; never shown)")
    lines.append(f"\n# warehouse file: {settings.warehouse_path}")
    lines.append(f"# outlets: {len(settings.outlets)}, sources: {len(settings.sources)}, "
                 f"stories: {', '.join(s.id for s in settings.stories) or 'none'}")
    return "\n".join(lines)


def _show(value: Any, secret: bool) -> str:
    if secret and value:
        return '"********"'
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return str(value)


def smtp_password(settings: Settings) -> str | None:
    """The SMTP password, read only from the environment variable the config names."""
    return os.environ.get(settings.get("smtp", "password_env")) or None
