"""The stored metadata fields are read without trafilatura's licence, category and tag
steps (issue 12), and are the values ``bare_extraction(with_metadata=True)`` gives. Every
page is generated here, each with a different way of naming its author, site and date."""

from __future__ import annotations

import json

import lxml.html
import pytest
import trafilatura

from pipeline.content import page_meta
from pipeline.content.extract import extract_page

URL = "http://127.0.0.1/news/river-plan"
TEXT = ("The council approved a new plan for the river park on Tuesday. Officials said work on "
        "the paths, the bridges and the wetland would start in the spring and take two years. ")


def page(head: str = "", byline: str = "", footer: str = "", title: str = "River plan approved") -> str:
    paragraphs = "".join(f"<p>{TEXT}({i})</p>" for i in range(5))
    links = "".join(f'<li><a href="/category/topic-{i}">Topic {i}</a></li>' for i in range(30))
    return (f"<!doctype html><html lang='en'><head><title>{title}</title>{head}</head><body>"
            f"<nav><ul>{links}</ul></nav><article><h1>{title}</h1>{byline}{paragraphs}</article>"
            f"<footer>{footer}<a rel='license' href='https://creativecommons.org/licenses/by/4.0/'>"
            f"CC BY 4.0</a></footer></body></html>")


def ld(data: dict) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


PAGES = {
    "one-word meta author, byline in the body": page(
        '<meta name="author" content="Staff">', '<p class="byline">By Jane Roe and Ann Smith</p>'),
    "two-word meta author": page('<meta name="author" content="Jane Roe">'),
    "JSON-LD author and publisher": page(ld({"@context": "https://schema.org", "@type": "NewsArticle", "author": {"name": "Ann Smith"},
                                            "publisher": {"@type": "Organization", "name": "River Times"},
                                            "datePublished": "2026-06-05T08:00:00Z"})),
    "og site name and description": page('<meta property="og:site_name" content="@rivertimes">'
                                         '<meta name="description" content="A plan &amp; a park.">'),
    "site name from the title": page(title="River plan approved | rivertimes.example"),
    "twitter site only": page('<meta name="twitter:site" content="@riverdaily">'),
    "date only in the text": page(byline="<p>Published 5 June 2026</p>"),
    "nothing but the text": page(),
}


@pytest.mark.parametrize("case", sorted(PAGES))
def test_stored_fields_equal_trafilaturas_metadata(case: str) -> None:
    html = PAGES[case]
    full = trafilatura.bare_extraction(trafilatura.load_html(html), url=URL, with_metadata=True).as_dict()
    tree = trafilatura.load_html(html)
    before = lxml.html.tostring(tree)
    ours = page_meta.metadata(tree, URL)
    assert ours == {field: full[field] for field in page_meta.STORED}
    assert lxml.html.tostring(tree) == before  # dates and titles are read from the same tree afterwards


def test_the_cases_differ_in_what_they_test() -> None:
    """Each case gives a different field set: a reader that returned None everywhere
    could not pass the equality above on all of them."""
    found = {case: tuple(page_meta.metadata(trafilatura.load_html(html), URL).values())
             for case, html in PAGES.items()}
    assert len(set(found.values())) == len(found)
    assert found["one-word meta author, byline in the body"][1] == "Jane Roe; Ann Smith"
    assert found["JSON-LD author and publisher"][4] == "River Times"


def test_an_extracted_article_carries_the_fields() -> None:
    article = extract_page(PAGES["JSON-LD author and publisher"].encode(), URL)
    assert (article.author, article.site_name, article.published_source) == ("Ann Smith", "River Times", "jsonld")
    assert "The council approved a new plan" in article.text
