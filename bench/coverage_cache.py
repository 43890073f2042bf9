"""Rebuild the page text of ../shared/eval/coverage-dev.json into a cache outside the repo,
and turn that cache into (a) a labelled folder for ``newswatch eval --labelled`` and (b) a
loopback newsroom for a ``newswatch run``.

The page text of each record is what the ``search`` tool's ``pages`` corpus returns for the
record's ``search_query`` (or title): the excerpt whose address is the record's URL. That
tool is a tool call of the development assistant, not a program, so the look-ups are done
by hand (one query per distinct ``search_query``, 49 for the 145 records) and each answer
is saved as ``CACHE/raw/qNN.txt``:

    QUERY: <the query as sent>
    @@@ <url of a result that is a record of the set>
    <the excerpt, verbatim>
    @@@ <next url>
    ...

Third-party text: the cache lives in /work/cache/coverage (``--cache``), never in the
repository; the labelled folder and the server's pages are written there too.

    python bench/coverage_cache.py ingest       # raw/*.txt -> <record id>.json per record
    python bench/coverage_cache.py status       # validate the cache; coverage per label
    python bench/coverage_cache.py labelled     # CACHE/labelled: labels.toml + <id>.txt
    python bench/coverage_cache.py serve --config CACHE/run-config --warehouse W.duckdb
                                                # loopback newsroom + config for newswatch run

The labelled folder splits the records deterministically (sha256 of the record id, per
label) into ``dev`` (thresholds may be chosen on it) and ``test`` (only reported on).
No network: the server binds 127.0.0.1 and the pages' links point at it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT.parent / "shared" / "eval" / "coverage-dev.json"  # shared/ sits beside the checkout
CACHE = Path("/work/cache/coverage")
SPLIT_SALT = "coverage-split-v1"
TOML_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Record:
    id: str
    url: str
    domain: str
    site_name: str
    title: str  # "" when the page shows none (title_source null in the data set)
    date: str | None
    language: str
    label: str  # positive | hard_negative | easy_negative
    borderline: bool
    query: str

    @property
    def relevant(self) -> bool:
        return self.label == "positive"


def load_records(dataset: Path = DATASET) -> list[Record]:
    doc = json.loads(dataset.read_text(encoding="utf-8"))
    return [Record(r["id"], r["url"], r["domain"], r.get("site_name") or r["domain"],
                   r.get("title") or "", r.get("date"), r.get("language") or "en", r["label"],
                   bool(r.get("borderline")), r.get("search_query") or r["title"])
            for r in doc["records"]]


# --- ingest -------------------------------------------------------------------------------

def parse_raw(path: Path) -> tuple[str, dict[str, str]]:
    """(query, {url: excerpt}) from one saved search answer."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if not lines or not lines[0].startswith("QUERY: "):
        raise ValueError(f"{path}: first line must be 'QUERY: ...'")
    query, found, url, body = lines[0][len("QUERY: "):], {}, None, []
    for line in lines[1:] + ["@@@ "]:
        if line.startswith("@@@ "):
            if url:
                found.setdefault(url, "\n".join(body).rstrip("\n"))
            url, body = line[4:].strip(), []
        elif url is not None:
            body.append(line)
    return query, found


def ingest(cache: Path, records: Sequence[Record]) -> Counter[str]:
    """Write CACHE/<id>.json for every record whose URL one of the saved answers holds."""
    by_url = {r.url: r for r in records}
    counts: Counter[str] = Counter()
    for raw in sorted((cache / "raw").glob("q*.txt")):
        query, found = parse_raw(raw)
        for url, text in found.items():
            rec = by_url.get(url)
            if rec is None:
                counts["not a record"] += 1
                continue
            entry = {"id": rec.id, "url": url, "title": rec.title, "text": text,
                     "search_query": query, "answer_file": raw.name}
            (cache / f"{rec.id}.json").write_text(json.dumps(entry, ensure_ascii=False, indent=1),
                                                  encoding="utf-8")
            counts["written"] += 1
    return counts


def cached(cache: Path, rec: Record) -> dict[str, str] | None:
    path = cache / f"{rec.id}.json"
    if not path.is_file():
        return None
    entry = json.loads(path.read_text(encoding="utf-8"))
    if entry.get("url") != rec.url or not str(entry.get("text", "")).strip():
        raise ValueError(f"{path}: url does not match the record, or no text")
    return entry


def status(cache: Path, records: Sequence[Record]) -> str:
    have = Counter(r.label for r in records if cached(cache, r))
    total = Counter(r.label for r in records)
    missing = [r for r in records if not cached(cache, r)]
    lines = [f"{label:<14} {have[label]:>3} / {total[label]:>3} with text" for label in sorted(total)]
    lines.append(f"{'all':<14} {sum(have.values()):>3} / {len(records):>3}")
    lines += [f"  missing: {r.id} {r.url}" for r in missing]
    return "\n".join(lines)


# --- labelled folder ----------------------------------------------------------------------

def split_of(records: Sequence[Record]) -> dict[str, str]:
    """Half of each label to 'dev', half to 'test', by a salted hash of the record id:
    deterministic, and independent of anything the scorer does."""
    out: dict[str, str] = {}
    for label in sorted({r.label for r in records}):
        mine = sorted((r for r in records if r.label == label),
                      key=lambda r: hashlib.sha256(f"{SPLIT_SALT}:{r.id}".encode()).hexdigest())
        for i, r in enumerate(mine):
            out[r.id] = "dev" if i % 2 == 0 else "test"
    return out


def write_labelled(cache: Path, records: Sequence[Record], out: Path, story: str = "rsi-pause") -> int:
    out.mkdir(parents=True, exist_ok=True)
    splits = split_of(records)
    entries = ["# Written by bench/coverage_cache.py from coverage-dev.json and the page cache.",
               "# Third-party text: keep this folder outside the repository.", ""]
    n = 0
    for rec in records:
        entry = cached(cache, rec)
        if entry is None:
            continue
        (out / f"{rec.id}.txt").write_text(f"{rec.title}\n{entry['text']}\n", encoding="utf-8")
        entries += ["[[article]]", f'file = "{rec.id}.txt"', f'story = "{story}"',
                    f'label = "{"relevant" if rec.relevant else "not"}"',
                    f'style = {json.dumps(rec.label + (" borderline" if rec.borderline else ""))}',
                    f'split = "{splits[rec.id]}"']
        if rec.date:
            entries.append(f"published = {full_date(rec.date)}")
        entries.append("")
        n += 1
    (out / "labels.toml").write_text("\n".join(entries), encoding="utf-8")
    return n


# --- loopback newsroom --------------------------------------------------------------------

def page_html(rec: Record, text: str, base: str) -> str:
    """A plain article page: the record's real site name, title and date as metadata; the
    cached text as paragraphs. The canonical link is the page's own loopback address."""
    paras = "\n".join(f"<p>{escape(p)}</p>" for p in re.split(r"\n\s*\n|\n", text) if p.strip())
    meta = [f'<meta property="og:site_name" content="{escape(rec.site_name)}">',
            f'<link rel="canonical" href="{escape(page_url(base, rec))}">']
    if rec.title:
        meta.append(f'<meta property="og:title" content="{escape(rec.title)}">')
    if rec.date:
        meta.append(f'<meta property="article:published_time" content="{escape(rec.date)}">')
    return (f'<!doctype html><html lang="{escape(rec.language)}"><head><meta charset="utf-8">'
            f'<title>{escape(rec.title)}</title>{"".join(meta)}</head><body><article>'
            f"{f'<h1>{escape(rec.title)}</h1>' if rec.title else ''}\n{paras}\n</article></body></html>")


def page_url(base: str, rec: Record) -> str:
    return f"{base}/{rec.domain}/{rec.id}"


def feed_xml(base: str, items: Iterable[Record]) -> str:
    parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
             "<title>coverage-dev (loopback)</title>", f"<link>{base}/</link>",
             "<description>Pages of the coverage cache</description>"]
    for rec in items:
        date = f"<pubDate>{_rfc822(rec.date)}</pubDate>" if rec.date else ""
        parts.append(f"<item><title>{escape(rec.title or rec.site_name)}</title><link>{escape(page_url(base, rec))}"
                     f"</link><guid>{escape(page_url(base, rec))}</guid>{date}</item>")
    return "".join(parts + ["</channel></rss>"])


def full_date(date: str) -> str:
    """'2025-07' (a page that shows only the month) -> '2025-07-01'; full dates unchanged."""
    parts = date[:10].split("-")
    return "-".join(parts + ["01"] * (3 - len(parts)))


def _rfc822(date: str) -> str:
    from datetime import datetime
    from email.utils import format_datetime
    return format_datetime(datetime.fromisoformat(f"{full_date(date)}T12:00:00+00:00"))


class Newsroom:
    """Serve the cached pages on 127.0.0.1: /<domain>/<record id>, and /feed.xml listing all."""

    def __init__(self, cache: Path, records: Sequence[Record]) -> None:
        self.records = [r for r in records if cached(cache, r)]
        self._texts = {r.id: cached(cache, r)["text"] for r in self.records}  # type: ignore[index]
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._pages = {urlsplit(page_url(self.base, r)).path: page_html(r, self._texts[r.id], self.base)
                       for r in self.records}
        self._feed = feed_xml(self.base, self.records)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        room = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body, ctype = room.answer(self.path)
                self.send_response(200 if body is not None else 404)
                data = (body or "not found").encode("utf-8")
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def answer(self, path: str) -> tuple[str | None, str]:
        if path == "/feed.xml":
            return self._feed, "application/rss+xml; charset=utf-8"
        return self._pages.get(path), "text/html; charset=utf-8"

    def start(self) -> Newsroom:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def write_config(self, config: Path, warehouse: Path) -> None:
        """newswatch.toml, sources.toml (one outlet per domain, by URL prefix, and one feed)
        and the repository's stories with their reference pointing at its seeds."""
        config.mkdir(parents=True, exist_ok=True)
        (config / "newswatch.toml").write_text(_settings(warehouse), encoding="utf-8")
        lines = ["# Written by bench/coverage_cache.py serve.", ""]
        for domain, rec in sorted({r.domain: r for r in self.records}.items()):
            lines += ["[[outlet]]", f"id = {json.dumps(_slug(domain))}",
                      f"name = {json.dumps(rec.site_name)}", f"domains = [{json.dumps(domain)}]",
                      f'url_prefixes = ["{self.base}/{domain}/"]', ""]
        lines += ["[[source]]", 'id = "coverage-feed"', 'kind = "feed"',
                  f'url = "{self.base}/feed.xml"', ""]
        (config / "sources.toml").write_text("\n".join(lines), encoding="utf-8")
        stories = config / "stories"
        stories.mkdir(exist_ok=True)
        for story in sorted((ROOT / "config" / "stories").glob("*.toml")):
            text = re.sub(r"^reference\s*=.*$", f"reference = {json.dumps(str(ROOT / 'seeds'))}",
                          story.read_text(encoding="utf-8"), flags=re.MULTILINE)
            text = re.sub(r'^counter_reference\s*=\s*"([^"]+)"', lambda m: "counter_reference = "
                          + json.dumps(str((ROOT / "config" / m.group(1)).resolve())), text, flags=re.MULTILINE)
            (stories / story.name).write_text(text, encoding="utf-8")


def _slug(domain: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", domain.lower()).strip("-")


def _settings(warehouse: Path) -> str:
    return "\n".join([
        "# Written by bench/coverage_cache.py serve: a run against the loopback newsroom.", "",
        "[warehouse]", f"path = {json.dumps(str(warehouse.resolve()))}", "",
        "[http]", 'user_agent = "newswatch-bench/0.1 (+http://127.0.0.1/)"',
        "connect_timeout = 2.0", "feed_timeout = 5.0", "page_timeout = 5.0",
        'allow_networks = ["127.0.0.0/8", "::1/128"]', "",
        "[schedule]", "interval_minutes = 30", "",
        "[digest]", 'time = "07:00"', 'timezone = "UTC"', 'recipients = ["editor@example.test"]',
        'sender = "newswatch@example.test"', "",
        "[smtp]", 'host = "127.0.0.1"', "port = 2525", 'security = "none"', ""])


# --- command line -------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--dataset", type=Path, default=DATASET)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ingest")
    sub.add_parser("status")
    lab = sub.add_parser("labelled")
    lab.add_argument("--out", type=Path)
    srv = sub.add_parser("serve")
    srv.add_argument("--config", type=Path, required=True)
    srv.add_argument("--warehouse", type=Path, required=True)
    args = ap.parse_args(argv)
    records = load_records(args.dataset)
    if args.cmd == "ingest":
        print(dict(ingest(args.cache, records)))
        print(status(args.cache, records))
    elif args.cmd == "status":
        print(status(args.cache, records))
    elif args.cmd == "labelled":
        out = args.out or args.cache / "labelled"
        print(f"{write_labelled(args.cache, records, out)} articles written to {out}")
    else:
        return _serve(args.cache, records, args.config, args.warehouse)
    return 0


def _serve(cache: Path, records: Sequence[Record], config: Path, warehouse: Path) -> int:
    room = Newsroom(cache, records).start()
    room.write_config(config, warehouse)
    print(f"serving {len(room.records)} pages at {room.base}/feed.xml; config in {config}")
    print(f"run: newswatch --config {config} run   (Ctrl-C here to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        room.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
