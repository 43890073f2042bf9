"""trafilatura options measured on AEB, in process (no server): mean token F1 of
``extract_page``'s path (our decoding, trafilatura's parser) with each option set, and on
how many pages it is at least as good as ``trafilatura.extract`` alone on the raw bytes.

    python bench/bench_extract_options.py [AEB_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_aeb import DEFAULT_AEB, f1, load  # noqa: E402

from pipeline.content.decode import decode_page  # noqa: E402
from pipeline.content.extract import _tree  # noqa: E402

OPTIONS = ({}, {"deduplicate": True}, {"include_tables": False}, {"include_tables": False, "deduplicate": True},
           {"favor_precision": True}, {"favor_recall": True}, {"fast": True})


def main(aeb: Path) -> None:
    pages = list(load(aeb).values())
    alone = [f1(trafilatura.extract(raw, url=url) or "", truth) for url, truth, raw in pages]
    for options in OPTIONS:
        scores = []
        for url, truth, raw in pages:
            doc = trafilatura.bare_extraction(_tree(decode_page(raw, "text/html").text, url), url=url,
                                              with_metadata=True, include_comments=False, **options)
            scores.append(f1((doc.as_dict().get("text") if doc else "") or "", truth))
        at_least = sum(s >= a - 1e-9 for s, a in zip(scores, alone))
        print(f"{options!s:50} mean F1 {sum(scores) / len(scores):.4f}  >= alone on {at_least}/{len(pages)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_AEB)
