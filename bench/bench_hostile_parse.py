"""Parse cost of hostile documents (issue 10): seconds and peak memory of one parse.

    python bench/bench_hostile_parse.py                 # this checkout
    python bench/bench_hostile_parse.py --items 20000   # fewer items (e.g. for an older checkout)

Each case runs in a fresh child process, so its peak RSS is its own. Documents are
generated here; nothing touches the network.
"""

from __future__ import annotations

import argparse
import inspect
import multiprocessing as mp
import resource
import time


def _empty_items(n: int) -> bytes:
    return b'<?xml version="1.0"?><rss version="2.0"><channel><title>E</title>' + b"<item/>" * n + b"</channel></rss>"


def _titled_items(n: int) -> bytes:
    items = "".join(f"<item><title>Item {i}</title><link>http://127.0.0.1/{i}</link></item>" for i in range(n))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


def _entity_laden(n: int) -> bytes:
    text = "word &amp; " * 700
    items = "".join(f"<item><title>S {i}</title><description>{text}</description></item>" for i in range(n))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>{items}</channel></rss>'.encode()


def _deep_json(n: int) -> bytes:
    return b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * n + b"]" * n + b"}"


CASES = {
    "empty items (2.2 M, 15 MB)": lambda a: _empty_items(2_200_000),
    "titled items": lambda a: _titled_items(a.items),
    "2,000 entity-laden items (15 MB)": lambda a: _entity_laden(2000),
    "JSON nested 200,000 deep": lambda a: _deep_json(200_000),
}


def _one(name: str, args: argparse.Namespace, out: mp.Queue) -> None:
    from pipeline.acquire import feeds

    body = CASES[name](args)
    kwargs = {"seconds": 20.0} if "seconds" in inspect.signature(feeds.parse_document).parameters else {}
    start = time.monotonic()
    try:
        parsed = feeds.parse_document(body, "http://127.0.0.1/feed", **kwargs)
        result = f"{len(parsed.entries)} entries"
    except BaseException as exc:  # noqa: BLE001 (the bench reports whatever happens)
        result = f"{type(exc).__name__}: {str(exc)[:80]}"
    seconds = time.monotonic() - start
    out.put((name, len(body), seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000, help="titled items (default 100,000)")
    parser.add_argument("--timeout", type=float, default=200.0, help="seconds before a case is given up")
    args = parser.parse_args()
    ctx = mp.get_context("fork")
    print(f"{'case':36} {'MB':>6} {'seconds':>8} {'peak MB':>8}  result")
    for name in CASES:
        out: mp.Queue = ctx.Queue()
        child = ctx.Process(target=_one, args=(name, args, out))
        child.start()
        child.join(args.timeout)
        if child.is_alive():
            child.kill()
            print(f"{name:36} {'':>6} {'>' + str(int(args.timeout)):>8} {'':>8}  given up")
            continue
        label, size, seconds, peak, result = out.get()
        print(f"{label:36} {size / 1e6:6.1f} {seconds:8.2f} {peak:8d}  {result}")


if __name__ == "__main__":
    main()
