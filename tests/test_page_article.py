"""A whole HTML page is read as its article: its menus, related links and footer are blanked."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from service.config import Settings
from service.engine import Tagger
from service.engine.markup import WORD_JOINER, is_page, readable
from service.engine.page_article import reading_copy
from service.engine.validation import MARKUP_ALLOWANCE, text_problem

ARTICLE = [
    "The European Central Bank raised its main interest rate by a quarter of a percentage point on Thursday, "
    "its fourth increase this year, as inflation across the euro area stayed well above its target.",
    "The bank&rsquo;s president told reporters in Frankfurt that price growth in services and wages had not "
    "slowed as quickly as policymakers had hoped, and that borrowing costs would stay high for as long as needed.",
    "Economists said the decision would weigh on mortgage lending and business investment in the coming months, "
    "while government bond yields in Italy and Spain rose after the announcement.",
    "The euro gained against the dollar, and European bank shares rose on expectations of wider lending margins.",
]
RELATED = [
    "Premier League: late penalty gives United dramatic derby win over City",
    "Tennis: world number one knocked out of the Australian Open in straight sets",
    "Cricket: England collapse on the final day as India clinch the series",
    "Formula One: champion takes pole position in Monaco qualifying",
    "Football transfer news: striker completes record move to Madrid",
    "Golf: Open leader cards a final round of 64 to win by three shots",
]
PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><title>ECB raises rates again | The Daily Ledger</title>'
    '<script>window.__STATE__ = {"section": "business", "ads": [1, 2, 3]};</script>'
    '<style>.nav a { color: red; }</style></head>\n<body>\n'
    '<header class="site-header"><nav class="menu"><ul>'
    + "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in
              ["Home", "News", "Sport", "Football", "Cricket", "Tennis", "Golf", "Weather", "Culture"])
    + '</ul></nav></header>\n<main><article class="story"><h1>ECB raises rates again as inflation lingers</h1>\n'
    + "".join(f"<p>{p}</p>\n" for p in ARTICLE)
    + '</article>\n<aside class="related"><h2>Most read in Sport</h2><ul>'
    + "".join(f'<li><a href="/sport/{i}">{h}</a></li>' for i, h in enumerate(RELATED))
    + '</ul></aside></main>\n<footer class="site-footer"><p>&copy; 2026 The Daily Ledger. All rights reserved.</p>'
    '<a href="/privacy">Privacy</a> <a href="/cookies">Cookies</a></footer>\n</body></html>\n'
)


def _shown(text: str) -> str:
    return " ".join(text.split())


def _count(text: str) -> int:
    """The characters ``text`` shows, as the limit counts them (word joiners are not shown)."""
    return len(_shown(readable(text).replace(WORD_JOINER, "")))


def test_a_page_is_read_as_its_article_with_every_offset_kept():
    copy = reading_copy(PAGE)
    assert len(copy) == len(PAGE)
    shown = _shown(copy)
    for paragraph in ARTICLE:
        plain = readable(paragraph)
        assert _shown(plain) in shown
        start = PAGE.index(paragraph)
        assert copy[start:start + len(paragraph)] == plain  # the caller's offsets, the article's words
    for chrome in ["Most read in Sport", "Premier League", "Cricket", "All rights reserved", "Privacy", "Daily Ledger"]:
        assert chrome not in shown


def test_whole_pages_read_every_word_they_show_when_asked():
    whole = _shown(reading_copy(PAGE, article=False))
    assert whole == _shown(readable(PAGE))
    assert "Premier League" in whole and "Most read in Sport" in whole


@pytest.mark.parametrize("fragment", [
    "<div><p>The central bank raised rates.</p><p>Markets fell.</p></div>",  # a fragment is all article
    "&lt;p&gt;The central bank raised rates.&lt;/p&gt;",  # an RSS summary
    # Prose that names the tags reads as a page, and its one paragraph is its article.
    "A guide to writing web pages: every page opens with <html> and puts what it shows in <body>, its text.",
])
def test_what_is_not_a_whole_page_is_read_as_before(fragment):
    assert reading_copy(fragment) == readable(fragment)


def test_a_page_whose_article_cannot_be_told_is_read_whole():
    deep = "<html><body>" + "<div>" * 20_000 + "The council approved the budget on Monday." + "</div>" * 20_000
    assert is_page(deep)
    assert reading_copy(deep) == readable(deep)  # lxml gives up on the nesting: the page is read whole
    empty = "<html><head><title>Nothing here</title></head><body></body></html>"
    assert reading_copy(empty) == readable(empty)
    tiny = "<html><body><nav><a href='/'>Home</a></nav><p>Short note.</p></body></html>"
    assert len(reading_copy(tiny)) == len(tiny)


def test_letters_written_as_entities_or_cut_by_tags_count_once_against_the_limit():
    """The reading copy's word joiners were counted as shown: words written with entities and inline tags
    ("Norv&#275;&#291;ij&#257;", "Euro<b>pean</b>") that show 379 characters counted 639, and were refused."""
    text = "<p>" + "Norv&#275;&#291;ij&#257; Euro<b>pean</b> " * 20 + "</p>"
    shown = len(" ".join(["Norvēģijā European"] * 20))
    assert text_problem(text, shown) is None
    assert text_problem(text, shown - 1) == (f"shows {shown} characters as text ({len(text)} with its markup); "
                                             f"the limit is {shown - 1}")


def test_a_page_counts_the_characters_it_shows_against_the_limit():
    limit = _count(PAGE) + 10
    padded = PAGE.replace("</head>", "<script>" + "x" * (5 * limit) + "</script></head>")
    assert len(padded) > limit and text_problem(padded, limit) is None
    shown = _count(padded)
    assert text_problem(padded, shown - 1) == (f"shows {shown} characters as text ({len(padded)} with its markup); "
                                               f"the limit is {shown - 1}")
    small = len(padded) // MARKUP_ALLOWANCE - 1
    assert text_problem(padded, small) == (f"has {len(padded)} characters; the limit is {small} "
                                           f"({MARKUP_ALLOWANCE} times that with HTML markup)")
    assert text_problem("x" * 101, 100) == "has 101 characters; the limit is 100"  # plain text as before


def test_a_page_gets_its_articles_topics_not_its_related_links(tagger):
    """Read whole, this page's sports headlines gave it sports; its article is about the ECB."""
    whole = Tagger(tagger.backend, tagger.taxonomies, replace(tagger.options, pages="whole"))
    [as_page] = whole.tag([PAGE])
    [as_article] = tagger.tag([PAGE])
    [alone] = tagger.tag(["\n\n".join(readable(p) for p in ARTICLE)])
    assert "sports" in [t.label for t in as_page.topics]  # the chrome matters on this page
    assert "sports" not in [t.label for t in as_article.topics]
    assert {t.label for t in as_article.topics} == {t.label for t in alone.topics}
    assert "economy" in [t.label for t in as_article.topics]
    for topic in as_article.topics:
        for evidence in topic.evidence:
            assert PAGE[evidence.start:evidence.end] == evidence.text
            assert any(evidence.text in p for p in ARTICLE)


def test_the_setting_names_its_two_ways():
    assert Settings.from_env({}).pages == "article"
    assert Settings.from_env({"NEWSTAG_PAGES": "whole"}).engine_options().tagger.pages == "whole"
    with pytest.raises(Exception, match="NEWSTAG_PAGES must be 'article' or 'whole'"):
        Settings.from_env({"NEWSTAG_PAGES": "all"})
    assert re.search("article", reading_copy.__doc__ or "")


def test_the_api_takes_a_page_by_what_it_shows_and_says_both_counts_when_it_is_too_much(tagger):
    from service import create_app

    shown = _count(PAGE)
    padded = PAGE.replace("</head>", "<script>" + "x" * 20_000 + "</script></head>")
    client = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "max_text_chars": shown + 10}).test_client()
    answer = client.post("/v1/classify", json={"text": padded})
    assert answer.status_code == 200, answer.json
    assert "sports" not in [t["label"] for t in answer.json["topics"]]
    for topic in answer.json["topics"]:
        for evidence in topic["evidence"]:
            assert padded[evidence["start"]:evidence["end"]] == evidence["text"]
    small = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "max_text_chars": shown - 1}).test_client()
    refused = small.post("/v1/classify", json={"text": padded})
    assert refused.status_code == 422
    assert {"path": "/text", "message": f"text shows {shown} characters as text ({len(padded)} with its markup); "
                                        f"the limit is {shown - 1}"} in refused.json["errors"]


def test_a_large_news_page_as_scraped_is_taken_at_default_settings(tagger):
    """A 2.5 MB news page (CNN's, scripts and inline data) was a 413 at the 1 MB body limit."""
    from service import create_app

    state = '{"ads": [' + ", ".join(f'{{"slot": {i}, "size": "300x250"}}' for i in range(75_000)) + "]}"
    big = PAGE.replace("</head>", f"<script>window.__DATA__ = {state};</script></head>")
    assert 2_500_000 < len(big) < 3_000_000
    answer = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False}).test_client().post(
        "/v1/classify", json={"text": big})
    assert answer.status_code == 200, answer.json
    assert "economy" in [t["label"] for t in answer.json["topics"]]
    assert all(big[e["start"]:e["end"]] == e["text"] for t in answer.json["topics"] for e in t["evidence"])


def test_a_pages_headline_is_read_once_with_its_article():
    """readability leaves the headline out of the article's block: TIME's, CNN's and Yonhap's pages lost theirs."""
    headline = "Central bank raises interest rates for the fourth time this year"
    page = (f"<!DOCTYPE html><html><head><title>{headline} | The Daily Ledger</title></head><body>"
            f'<div class="top"><h1 class="headline">{headline}</h1><span>By Jane Smith</span></div>'
            '<div class="story-body">' + "".join(f"<p>{p}</p>" for p in ARTICLE) + "</div>"
            '<div class="sidebar"><ul>' + "".join(f"<li><a href='/s'>{h}</a></li>" for h in RELATED) + "</ul></div>"
            "</body></html>")
    shown = _shown(reading_copy(page))
    assert shown.count(headline) == 1 and shown.startswith(headline)
    assert "Daily Ledger" not in shown and "Premier League" not in shown and "Jane Smith" not in shown
    paragraphs = "".join(f"<p>{p}</p>" for p in ARTICLE)
    inside = f"<html><body><article><h1>{headline}</h1>{paragraphs}</article></body></html>"
    assert _shown(reading_copy(inside)).count(headline) == 1


def test_a_dateline_is_read_where_the_article_starts_not_in_the_pages_title():
    """CNN's pages open their article with "Washington (CNN) —": with a long menu before the article, the
    short "CNN" was found in the <title>, and the headline was quoted as evidence with "| CNN" after it."""
    headline = "Central bank raises interest rates for the fourth time this year"
    menu = "<nav><ul>" + "".join(f"<li><a href='/s'>{h}</a></li>" for h in RELATED * 6) + "</ul></nav>"
    page = (f"<!DOCTYPE html><html><head><title>{headline} | CNN</title></head><body>{menu}"
            f'<div class="top"><h1 class="headline">{headline}</h1></div>'
            '<div class="story-body"><p><span class="loc">Frankfurt</span> (<span class="src">CNN</span>) &mdash; '
            + ARTICLE[0] + "</p>" + "".join(f"<p>{p}</p>" for p in ARTICLE[1:]) + "</div></body></html>")
    copy = reading_copy(page)
    title = page.index("<title>")
    assert _shown(copy[title:page.index("</title>")]) == headline
    assert _shown(copy).startswith(f"{headline} Frankfurt ( CNN ) — The European")
