"""What one page costs to read, step by step, on real pages and on the cold bench's pages
(issue 12): the CPU time of trafilatura's text alone (what bench_cold's "plain" loop does),
trafilatura with its full metadata step (newswatch before issue 12d), and newswatch's
``extract_page`` (decode, text, the stored metadata fields only, dates, title). It also
checks, page by page, that ``page_meta`` gives the stored fields exactly as trafilatura's
full metadata step does.

    python bench/bench_extract_cost.py [AEB_DIR] [--generated N] [--before OLD/pipeline/content/extract.py]

Defaults: ../shared/eval/aeb, 100 generated pages. ``--before`` times another version of
``content/extract.py`` beside this one, page for page, and counts the pages whose
``Article`` differs (the file is loaded as a module; its imports resolve to this checkout).

Pages are read from files and generated in memory; nothing is fetched.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

import trafilatura  # noqa: E402

import bench_aeb  # noqa: E402
import bench_cold  # noqa: E402
from pipeline.content import page_meta  # noqa: E402
from pipeline.content.decode import decode_page  # noqa: E402
from pipeline.content.extract import extract_page  # noqa: E402


def cpu_ms(pages: list[tuple[str, bytes]], readers: list[Callable[[bytes, str], object]],
           rounds: int = 5) -> list[float]:
    """CPU milliseconds per page of each reader: the median over ``rounds``, the readers
    taking turns in every round, so that a change in the machine's load hits them alike."""
    times: list[list[float]] = [[] for _ in readers]
    for _ in range(rounds):
        for spent, read in zip(times, readers):
            start = time.process_time()
            for url, body in pages:
                try:
                    read(body, url)
                except Exception:  # noqa: BLE001 (a refused page costs what it cost)
                    pass
            spent.append((time.process_time() - start) * 1000 / len(pages))
    return [statistics.median(t) for t in times]


def text_only(body: bytes, url: str) -> object:
    return trafilatura.bare_extraction(body, url=url)


def full_metadata(body: bytes, url: str) -> object:
    return trafilatura.bare_extraction(body, url=url, with_metadata=True, include_comments=False)


def same_fields(pages: list[tuple[str, bytes]]) -> tuple[int, list[str]]:
    """Pages compared and those where a stored field differs from trafilatura's."""
    differ, compared = [], 0
    for url, body in pages:
        tree = trafilatura.load_html(decode_page(body, None).text)
        if tree is None:
            continue
        full = trafilatura.bare_extraction(tree, url=url, with_metadata=True, include_comments=False)
        ours = page_meta.metadata(tree, url)
        compared += 1
        if full is not None and ours != {f: getattr(full, f) for f in page_meta.STORED}:
            differ.append(url)
    return compared, differ


def load_before(path: Path) -> Callable[[bytes, str], object]:
    spec = importlib.util.spec_from_file_location("extract_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.extract_page


def outcome(read: Callable[[bytes, str], object], body: bytes, url: str) -> object:
    try:
        return read(body, url)
    except Exception as exc:  # noqa: BLE001 (a refusal is an outcome too)
        return repr(exc)


def report(name: str, pages: list[tuple[str, bytes]], before: Callable[[bytes, str], object] | None) -> None:
    compared, differ = same_fields(pages)
    readers = [text_only, full_metadata, extract_page] + ([before] if before is not None else [])
    bare, full, ours, *old = cpu_ms(pages, readers)
    print(f"{name}: {len(pages)} pages")
    print(f"  stored metadata fields equal to trafilatura's: {compared - len(differ)}/{compared}"
          + (f"  differ: {differ[:5]}" if differ else ""))
    print(f"  trafilatura, text only          {bare:6.1f} ms CPU/page")
    print(f"  trafilatura, full metadata      {full:6.1f} ms CPU/page")
    print(f"  newswatch extract_page          {ours:6.1f} ms CPU/page  ({bare / ours:.2f}x of text only)")
    if before is not None:
        changed = sum(outcome(before, b, u) != outcome(extract_page, b, u) for u, b in pages)
        print(f"  extract_page before             {old[0]:6.1f} ms CPU/page  "
              f"(articles that differ from this one's: {changed})")


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("aeb", nargs="?", type=Path, default=bench_aeb.DEFAULT_AEB)
    args.add_argument("--generated", type=int, default=100)
    args.add_argument("--before", type=Path, help="another version of pipeline/content/extract.py")
    opts = args.parse_args()
    before = load_before(opts.before) if opts.before else None
    real = [(url, body) for url, _, body in bench_aeb.load(opts.aeb).values()]
    report(f"real pages ({opts.aeb})", real, before)
    generated = [(f"http://127.0.0.1{path}", html.encode())
                 for path, _, _, html in bench_cold.pages(opts.generated, lambda p: f"http://127.0.0.1{p}")]
    report("generated pages (bench_cold.py)", generated, before)


if __name__ == "__main__":
    main()
