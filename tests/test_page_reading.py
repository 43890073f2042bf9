"""Pages as browsers read them (issue 9): encodings, binary bodies, length in scripts
without spaces, dates with provenance, titles. Every page here is generated; the texts
were written for these tests."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone

import pytest

from pipeline.content.extract import clean_title, extract_page
from pipeline.errors import ExtractError

CS = ("Vláda v úterý schválila nový zákon o ochraně přírody. Ministr řekl, že změny začnou "
      "platit příští rok a že obce dostanou peníze na údržbu luk, řek a lesů.")
JA = "政府は火曜日に新しい自然保護法を承認した。大臣は、変更は来年から施行され、自治体は川や森の管理のための資金を受け取ると述べた。"
ZH = "政府周二批准了一项新的自然保护法。部长表示，这些变化将于明年生效，地方政府将获得维护河流和森林的资金。"
RU = ("Правительство во вторник одобрило новый закон об охране природы. Министр сказал, что "
      "изменения вступят в силу в следующем году.")
EN = ("The council approved a new plan for the river park on Tuesday. Officials said work on the "
      "paths, the bridges and the wetland would start in the spring and take two years.")
URL = "http://127.0.0.1/world/2026/park-plan"
FEED_DATE = datetime(2026, 6, 6, 9, 30, tzinfo=timezone.utc)


def page(title: str, text: str, *, head: str = "", paragraphs: int = 4,
         footer: str = "&copy; 2026 Example Media. All rights reserved.") -> str:
    body = "".join(f"<p>{text} ({i + 1})</p>" for i in range(paragraphs))
    return (f"<!doctype html><html><head>{head}<title>{title} | Example Daily</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><main><article><h1>{title}</h1>"
            f"{body}</article></main><footer>{footer}</footer></body></html>")


ENCODED = [  # (case, codec, text, meta charset or None, Content-Type)
    ("windows-1250 by meta", "windows-1250", CS, "windows-1250", "text/html"),
    ("Shift_JIS by meta", "shift_jis", JA, "shift_jis", "text/html"),
    ("EUC-JP by HTTP charset", "euc-jp", JA, None, "text/html; charset=EUC-JP"),
    ("GB18030 by a gb2312 label", "gb18030", ZH, "gb2312", "text/html"),
    ("KOI8-R by meta", "koi8-r", RU, "koi8-r", "text/html"),
    ("UTF-8 without any declaration", "utf-8", JA, None, "text/html"),
    ("KOI8-R without any declaration", "koi8-r", RU, None, "text/html"),
    ("Shift_JIS without any declaration", "shift_jis", JA, None, "text/html"),
    ("UTF-8 declared as ISO-8859-1", "utf-8", CS, "iso-8859-1", "text/html"),
    ("Shift_JIS declared as UTF-8", "shift_jis", JA, "utf-8", "text/html"),
    ("windows-1250 declared as UTF-8 in the HTTP header", "windows-1250", CS, None, "text/html; charset=utf-8"),
]


@pytest.mark.parametrize(("case", "codec", "text", "meta", "content_type"), ENCODED, ids=[c[0] for c in ENCODED])
def test_pages_are_decoded_as_written(case: str, codec: str, text: str, meta: str | None,
                                      content_type: str) -> None:
    head = f'<meta charset="{meta}">' if meta else ""
    title = text[:12]
    article = extract_page(page(title, text, head=head).encode(codec), URL, {"Content-Type": content_type})
    assert text[:40] in article.text, case
    assert article.title == title  # and no " | Example Daily"
    assert article.encoding and article.encoding_source


def test_a_wrong_declaration_says_it_was_set_aside() -> None:
    article = extract_page(page(JA[:12], JA, head='<meta charset="utf-8">').encode("shift_jis"), URL,
                           {"Content-Type": "text/html"})
    assert article.encoding_source.startswith("detected (meta said utf-8")


def test_a_short_japanese_article_counts_characters_not_words() -> None:
    article = extract_page(page(JA[:12], JA, head='<meta charset="utf-8">', paragraphs=2).encode(), URL)
    assert len(article.text.split()) < 25  # it would be "too short" counted in words
    with pytest.raises(ExtractError, match="too short"):
        extract_page(page("短い", "短い記事です。", head='<meta charset="utf-8">', paragraphs=1).encode(), URL)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.html", page("Inside a zip", EN, paragraphs=50))
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + EN.encode() * 40 + b"\n%%EOF\n"


@pytest.mark.parametrize(("body", "what"), [(_zip(), "ZIP"), (PDF, "PDF"), (b"\x89PNG\r\n\x1a\n" + bytes(300), "PNG")])
def test_binary_bodies_are_not_article_pages_whatever_their_type(body: bytes, what: str) -> None:
    with pytest.raises(ExtractError, match=f"not an article page: the body is an? {what}") as caught:
        extract_page(body, URL, {"Content-Type": "text/html; charset=utf-8"})
    assert caught.value.reason == "not_article"


def test_a_copyright_footer_is_never_the_date_and_the_feed_date_wins() -> None:
    article = extract_page(page("Park plan", EN, footer="&copy; 2026 Example Media").encode(), URL,
                           feed_date=FEED_DATE)
    assert (article.published, article.published_source) == (FEED_DATE, "feed")
    assert article.date_guess is None


def test_without_feed_date_a_footer_year_leaves_the_article_undated() -> None:
    article = extract_page(page("Park plan", EN, footer="Copyright 2026 Example Media").encode(), URL)
    assert (article.published, article.published_source, article.date_guess) == (None, None, None)


def test_json_ld_date_beats_the_feed_and_page_metadata_beats_both() -> None:
    ld = json.dumps({"@context": "https://schema.org", "@graph": [
        {"@type": "NewsArticle", "headline": "Park plan", "datePublished": "2026-06-05T08:00:00+02:00"}]})
    head = f'<script type="application/ld+json">{ld}</script>'
    article = extract_page(page("Park plan", EN, head=head).encode(), URL, feed_date=FEED_DATE)
    assert (article.published, article.published_source) == (datetime(2026, 6, 5, 6, tzinfo=timezone.utc), "jsonld")
    meta = head + '<meta property="article:published_time" content="2026-06-04T12:00:00Z">'
    article = extract_page(page("Park plan", EN, head=meta).encode(), URL, feed_date=FEED_DATE)
    assert (article.published, article.published_source) == (datetime(2026, 6, 4, 12, tzinfo=timezone.utc), "page")


def test_a_date_in_the_url_comes_after_the_feed() -> None:
    url = "http://127.0.0.1/world/2026/06/03/park-plan"
    assert extract_page(page("Park plan", EN).encode(), url).published_source == "url"
    assert extract_page(page("Park plan", EN).encode(), url, feed_date=FEED_DATE).published_source == "feed"


def test_a_year_only_page_date_is_not_a_publication_date() -> None:
    head = '<meta property="article:published_time" content="2026">'
    article = extract_page(page("Park plan", EN, head=head).encode(), URL, feed_date=FEED_DATE)
    assert article.published_source == "feed"


def test_dates_outside_1990_to_tomorrow_are_dropped_with_a_note() -> None:
    head = '<meta property="article:published_time" content="1970-01-01T00:00:00Z">'
    future = datetime(2099, 1, 1, tzinfo=timezone.utc)
    article = extract_page(page("Park plan", EN, head=head).encode(), URL, feed_date=future)
    assert article.published is None
    assert any("1970" in n for n in article.notes) and any("2099" in n for n in article.notes)


def test_titles_lose_the_site_suffix_and_fall_back_to_the_feed() -> None:
    assert clean_title("River park plan approved | Example Daily", "Example Daily") == "River park plan approved"
    assert clean_title("River park plan approved - example", None, "http://www.example.test/a") == \
        "River park plan approved"
    assert clean_title("Examples - the good and the bad", None) == "Examples - the good and the bad"
    bare = f"<html><body><div><p>{EN}</p><p>{EN}</p><p>{EN}</p></div></body></html>"
    assert extract_page(bare.encode(), URL, feed_title="Park plan (feed)").title == "Park plan (feed)"
