"""HTML in an article is read as the text it wraps, with offsets into the caller's text kept."""

from __future__ import annotations

import pytest

from service.engine.markup import WORD_JOINER, feed_items, has_markup, readable
from service.engine.sentences import split_sentences

STORY = ('<div class="story"><h1>ECB raises rates</h1><p>The European Central Bank raised its main interest rate '
         'by a quarter point on Thursday.</p><p>It said inflation was still too high &amp; rising.</p>'
         '<script>var x = "<p>not shown</p>";</script><!-- ad slot --><p>Markets fell after the decision.</p></div>')


def test_the_reading_copy_keeps_every_offset_and_hides_the_markup():
    copy = readable(STORY)
    assert len(copy) == len(STORY)
    assert " ".join(copy.split()) == ("ECB raises rates The European Central Bank raised its main interest rate by a "
                                      "quarter point on Thursday. It said inflation was still too high & rising. "
                                      "Markets fell after the decision.")
    start = copy.index("The European")
    assert STORY[start:start + 12] == "The European"
    assert "\n\n" in copy[copy.index("rates"):copy.index("The European")]  # a block's end is a paragraph's


@pytest.mark.parametrize("text", ["x<y and y>z", "Shares rose <Reuters> said", "AT&T and P&G", "no markup at all"])
def test_text_that_only_looks_like_markup_is_left_as_it_is(text):
    assert not has_markup(text) and readable(text) == text


def test_an_html_article_gets_the_topics_and_evidence_of_its_text(tagger):
    """This article in <div><p> was called non-news (probability of news 0.06) and got no topic."""
    [wrapped] = tagger.tag([STORY])
    assert "economy" in [t.label for t in wrapped.topics], wrapped.warnings
    assert "not-news" not in [w.code for w in wrapped.warnings]
    for topic in wrapped.topics:
        for evidence in topic.evidence:
            assert STORY[evidence.start:evidence.end] == evidence.text  # the caller's text, as the API promises
    quoted = [e.text for t in wrapped.topics for e in t.evidence]
    assert "It said inflation was still too high &amp; rising." in quoted


@pytest.mark.parametrize("text, sentence", [
    ("<p>The central bank chief said: &ldquo;We will raise interest rates again.&rdquo; Markets fell sharply "
     "after the announcement.</p>", "The central bank chief said: &ldquo;We will raise interest rates again.&rdquo;"),
    ("<p>&rlm;The central bank raised interest rates again.&rlm; Markets fell sharply.</p>",
     "&rlm;The central bank raised interest rates again.&rlm;"),
])
def test_evidence_that_ends_on_an_entity_quotes_the_whole_entity(tagger, text, sentence):
    """A sentence ending on a closing quote or a direction mark written as an entity ended after
    its "&" in the caller's text: evidence "... rates again.&" (a helper's audit)."""
    [result] = tagger.tag([text], ["economy"], threshold=0.0)
    quoted = [e.text for t in result.topics for e in t.evidence]
    assert sentence in quoted, quoted
    for topic in result.topics:
        for evidence in topic.evidence:
            assert text[evidence.start:evidence.end] == evidence.text


_ICON = ('<a class="share" href="#"><svg viewBox="0 0 24 24" aria-hidden="true"><title>Share</title><g fill="none">'
         '<path d="M18 16.08c-.76 0-1.44.3-1.96.77L8.91 12.7c.05-.23.09-.46.09-.7s-.04-.47-.09-.7l7.05-4.11c.54.5 '
         '1.25.81 2.04.81 1.66 0 3-1.34 3-3s-1.34-3-3-3-3 1.34-3 3c0 .24.04.47.09.7L8.04 9.81C7.5 9.31 6.79 9 6 9'
         'c-1.66 0-3 1.34-3 3s1.34 3 3 3c.79 0 1.5-.31 2.04-.81l7.12 4.16c-.05.21-.08.43-.08.65 0 1.61 1.31 2.92 '
         '2.92 2.92s2.92-1.31 2.92-2.92-1.31-2.92-2.92-2.92z" fill="currentColor"/></g></svg></a>')
_PAGE = ('<html><body><header><amp-img src="/logo.png" width="120" height="40" layout="fixed"></amp-img>'
         '<gu-island name="Nav" deferuntil="idle"></gu-island></header><div class="share">' + _ICON * 4 + '</div>'
         + STORY.replace("</h1>", "</h1><p class=MsoNormal>By Jane Doe<o:p></o:p></p>") + '</body></html>')


def test_svg_custom_elements_and_namespaced_tags_are_markup():
    """Inline SVG (share icons: path data such as "M18 16.08c-.76 0-1.44.3"), custom elements
    (<amp-img>, <gu-island>) and Word's <o:p> were read as text: four share icons made a 331-token
    article 1,584 tokens, called non-news with no topic (a helper's audit of scraped pages)."""
    copy = readable(_PAGE)
    assert len(copy) == len(_PAGE)
    assert " ".join(copy.split()).startswith("ECB raises rates By Jane Doe The European Central Bank raised")
    assert has_markup('<amp-img src="a.jpg"></amp-img>') and has_markup("<o:p></o:p>")


def test_an_article_page_with_share_icons_gets_its_topics(tagger):
    [result] = tagger.tag([_PAGE])
    assert "economy" in [t.label for t in result.topics], result.warnings
    assert result.tokens < 100


@pytest.mark.parametrize("tag", ['<dialog open id="cmp-consent" aria-modal="true">', '<menu class="site-menu">',
                                 '<hgroup class="headline-group">', '<search role="search">', '<canvas id="chart">',
                                 '<base href="https://example.com/news/">', '<progress max="100" value="0">',
                                 '<ruby>', "<strike>", "<nobr>", "<marquee>", '<map name="m">'])
def test_tags_of_every_html_name_are_markup(tag):
    """Elements HTML names that the list lacked were read as text, attributes and all: a consent <dialog>,
    a <menu>, a headline's <hgroup>, <base href> in the head (an article page using four of them: 472 tokens,
    341 with them read as markup)."""
    name = tag[1:].split()[0].rstrip(">")
    text = f"<p>Markets fell.</p>{tag}Stocks rose.</{name}>"
    assert " ".join(readable(text).split()) == "Markets fell. Stocks rose."


@pytest.mark.parametrize("text", [
    "<!DOCTYPE html>\n<html><body><p>The central bank raised interest rates.</p></body></html>",
    '<?xml version="1.0" encoding="UTF-8"?><p>The central bank raised interest rates.</p>',
    "<![CDATA[The central bank raised interest rates.]]>",  # an RSS item's description as scraped
])
def test_declarations_and_cdata_markers_are_markup(text):
    """"<!DOCTYPE html>" began every page's reading copy, and an RSS description in CDATA was quoted as
    evidence markers and all: "<![CDATA[The European Central Bank raised ... inflation.]]>"."""
    assert " ".join(readable(text).split()) == "The central bank raised interest rates."


@pytest.mark.parametrize("tag", ['<a href="/world" title="Home > World > Europe">',
                                 "<div data-track='{\"label\": \"Article > Share\"}'>",
                                 '<button aria-label="Next >">'])
def test_a_tag_ends_after_its_quoted_attributes(tag):
    """A ">" inside a quoted attribute (a breadcrumb title, tracking JSON) ended the tag there: the rest
    was read as text and quoted as evidence ('b">Stocks rose on Thursday ...')."""
    text = f"<p>{tag}Stocks rose on Thursday after the central bank cut rates.</p>"
    assert " ".join(readable(text).split()) == "Stocks rose on Thursday after the central bank cut rates."


@pytest.mark.parametrize("tag", ['<div data-source-html="<span class=&quot;source&quot;> - Source: CNN</span>" '
                                 'data-description="A video of the vote.">',
                                 "<img alt='a <b>bold</b> caption' src='/x.jpg'>"])
def test_a_tag_ends_after_quoted_attributes_that_hold_tags(tag):
    """CNN's video players carry HTML in an attribute: the tag was not told, and its attributes were read
    and quoted as evidence ('... historic ruling" data-description="CNN senior ...')."""
    text = f"<p>{tag}Stocks rose on Thursday after the central bank cut rates.</p>"
    assert " ".join(readable(text).split()) == "Stocks rose on Thursday after the central bank cut rates."


@pytest.mark.parametrize("text", ['<p class="lead>Stocks rose.</p>', "<a href=/x title=Don't>Stocks rose.</a>"])
def test_a_tag_with_an_unclosed_quote_is_still_a_tag(text):
    assert " ".join(readable(text).split()) == "Stocks rose."


_WRAPPED = """<article>
  <h1>Ukraine passes record defence budget</h1>
  <p>
    Ukraine's parliament approved a budget that raises defence spending to a record, Finance
    Minister Serhiy Marchenko told lawmakers, adding that the European Union and the United
    States would cover most of the deficit, <a
      href="/people/zelenskiy"
      class="person-link">President
    Volodymyr Zelenskiy</a> said.
  </p>
  <pre>Budget  2027
Defence 31%</pre>
</article>"""


def test_line_breaks_of_html_source_are_spaces():
    """A browser shows a line break in HTML's source as a space, but the reading copy kept them, and the
    splitter cut a sentence at each line starting with a capital ("... Finance" | "Minister Serhiy ...");
    a tag written over lines (attributes on lines of their own) even made a paragraph break."""
    copy = readable(_WRAPPED)
    assert [" ".join(copy[s.start:s.end].split()) for s in split_sentences(copy)] == [
        "Ukraine passes record defence budget",
        "Ukraine's parliament approved a budget that raises defence spending to a record, Finance Minister Serhiy "
        "Marchenko told lawmakers, adding that the European Union and the United States would cover most of the "
        "deficit, President Volodymyr Zelenskiy said.",
        "Budget 2027", "Defence 31%"]


@pytest.mark.parametrize("text", [
    "ECB raises rates\n\n<p>The European Central Bank raised rates.</p>",  # a title, a blank line, an HTML body
    "ECB raises rates\n\nThe European Central Bank raised <b>rates</b>.\n\nMarkets fell.",  # blank-line paragraphs
    "ECB raises rates\nThe European Central Bank raised <b>rates</b>.\nMarkets fell.",  # no block tag: lines kept
])
def test_a_texts_own_paragraphs_stay_apart_around_html(text):
    copy = readable(text)
    assert [text[s.start:s.end].split("<")[0] for s in split_sentences(copy)][0] == "ECB raises rates"


def test_tags_inside_a_script_are_not_read():
    """A tag in a script's string (an ad slot written by document.write) still put its paragraph break into
    the blanked script, and a script inside a paragraph cut its sentence in two."""
    text = ('<p>The central bank raised interest rates <script>googletag.cmd.push(function() '
            '{ document.write("<div id=ad-1></div>"); });</script> on Thursday, the governor said.</p>')
    copy = readable(text)
    assert [" ".join(copy[s.start:s.end].split()) for s in split_sentences(copy)] == [
        "The central bank raised interest rates on Thursday, the governor said."]


def test_entities_inside_tags_and_scripts_are_not_read():
    """Entities in attributes and scripts were decoded into the blanked copy: a page whose <main> carried
    its state as escaped JSON (data-props="{&quot;articles&quot;: ...}", as SSR islands do) read 1,637
    tokens of quotes for a 331-token article, called non-news with no topic."""
    text = ('<main data-props="{&quot;headline&quot;: &quot;Story 1&quot;, &quot;url&quot;: &quot;/a?id=1&amp;r=2'
            '&quot;}"><p>The central bank raised interest rates&nbsp;on Thursday.</p><a href="/s?q=oil&amp;p=2">'
            'Oil &amp; gas</a></main><style>a::after { content: "&raquo;" }</style><script>x = "&lt;";</script>')
    assert " ".join(readable(text).split()) == "The central bank raised interest rates on Thursday. Oil & gas"


@pytest.mark.parametrize("text", [
    "ECB raises rates\n\n&lt;p&gt;The European Central Bank raised interest rates.&lt;/p&gt;&lt;p&gt;Markets fell "
    "after the &lt;a href=&quot;https://example.com/ecb&quot;&gt;decision&lt;/a&gt; on Thursday.&lt;/p&gt;",
    "ECB raises rates\n\n<p>The European Central Bank raised interest rates.</p><p>Markets fell after the "
    '<a href="https://example.com/ecb">decision</a> on Thursday.</p>',
])
def test_an_rss_summary_of_escaped_html_is_read_as_its_html(text):
    """An RSS or Atom summary holds its HTML escaped; sent as scraped, "&lt;p&gt;" was read as the text "<p>",
    and evidence quoted two sentences glued by it: "&lt;p&gt;The European ... inflation.&lt;/p&gt;&lt;p&gt;Markets
    fell ...". Escaped tags of HTML's names read as the tags ("the &lt;p&gt; tag" loses its "<p>")."""
    copy = readable(text)
    assert [" ".join(copy[s.start:s.end].split()) for s in split_sentences(copy)] == [
        "ECB raises rates", "The European Central Bank raised interest rates.",
        "Markets fell after the decision on Thursday."]


_ITEM = """<item>
  <title>ECB raises rates for a fourth time as inflation lingers</title>
  <link>https://news.example.com/business/2026/12/07/ecb-raises-rates-4417</link>
  <description>The European Central Bank raised its main interest rate by a quarter point on Thursday. Its president \
said wages were still rising fast.</description>
  <category>Business</category>
  <pubDate>Mon, 07 Dec 2026 10:15:00 GMT</pubDate>
  <guid isPermaLink="false">urn:uuid:4417-ecb-rates-2026</guid>
  <dc:creator>Jane Smith</dc:creator>
</item>"""
_ENTRY = """<entry>
  <title type="text">ECB raises rates for a fourth time as inflation lingers</title>
  <link rel="alternate" href="https://news.example.com/ecb"/>
  <id>tag:news.example.com,2026:ecb-4417</id>
  <updated>2026-12-07T10:15:00Z</updated>
  <author><name>Jane Smith</name><uri>https://news.example.com/staff/jsmith</uri></author>
  <summary>The European Central Bank raised its main interest rate by a quarter point on Thursday. Its president \
said wages were still rising fast.</summary>
</entry>"""
_TOLD = ("ECB raises rates for a fourth time as inflation lingers The European Central Bank raised its main interest "
         "rate by a quarter point on Thursday. Its president said wages were still rising fast.")


@pytest.mark.parametrize("item", [_ITEM, _ENTRY], ids=["rss", "atom"])
def test_a_feed_item_is_read_as_its_title_and_text(item):
    """Its feed's own elements were text ("<pubDate>Mon, 07 Dec ...", "<description>"), and its link's URL,
    id, dates and byline were read as the article's words."""
    copy = readable(item)
    assert len(copy) == len(item) and " ".join(copy.split()) == _TOLD
    assert "\n\n" in copy[copy.index("lingers"):copy.index("The European")]  # the title is a paragraph of its own


def test_a_feeds_channel_elements_and_media_credits_are_not_read_with_its_item():
    """RSS 2.0's <copyright>, <managingEditor>, <webMaster> and <image> were read tags and all, <language>'s
    "en-us" as a word, and a photo's credit glued to its caption by word joiners ("ImagesLagarde")."""
    feed = ("<rss version='2.0'><channel><language>en-us</language><copyright>Copyright 2026 Example Media."
            "</copyright><managingEditor>news@example.com (Jane Editor)</managingEditor><webMaster>web@example.com"
            "</webMaster><image><url>https://example.com/logo.png</url><title>Example News</title></image>"
            "<sy:updatePeriod>hourly</sy:updatePeriod>" + _ITEM.replace(
                "<description>", "<media:credit>Photo: Getty Images</media:credit><media:title>Lagarde speaks"
                "</media:title><description>") + "</channel></rss>")
    copy = readable(feed)
    assert " ".join(copy.split()) == _TOLD.replace("lingers The", "lingers Lagarde speaks The")


def test_feed_names_are_text_outside_a_feed():
    prose = "Use <category> and <guid> in your feed, says the <description> spec."
    assert not has_markup(prose) and readable(prose) == prose
    fragment = "<p>The <category> of the prize is new.</p>"
    assert " ".join(readable(fragment).split()) == "The <category> of the prize is new."


def test_a_feed_item_gets_the_topics_and_evidence_of_its_text(tagger):
    """Its evidence quoted "https://news.example.com/...</link>\\n  <description>The European Central Bank ..."."""
    [item], [plain] = tagger.tag([_ITEM]), tagger.tag([_TOLD])
    assert [(t.label, round(t.score, 3)) for t in item.topics] == [(t.label, round(t.score, 3)) for t in plain.topics]
    assert "economy" in [t.label for t in item.topics]
    for topic in item.topics:
        for evidence in topic.evidence:
            assert _ITEM[evidence.start:evidence.end] == evidence.text and "<" not in evidence.text


def test_a_feed_of_several_items_says_it_was_read_as_one_text(tagger):
    """A feed of many items got the topics of their mix, as if it were one article, and no word of it."""
    second = _ENTRY.replace("ECB raises rates", "Storm floods coastal towns").replace(
        "The European Central Bank raised its main interest rate by a quarter point on Thursday. Its president said "
        "wages were still rising fast.", "Heavy rain flooded three coastal towns overnight and forced hundreds of "
        "families from their homes.")
    feed = f"<feed xmlns='http://www.w3.org/2005/Atom'><title>Example News</title>{_ENTRY}{second}</feed>"
    assert feed_items(feed) == 2 and feed_items(_ITEM) == 1 and feed_items("<p>One article.</p>") == 0
    [many], [one] = tagger.tag([feed]), tagger.tag([_ITEM])
    assert [w.code for w in many.warnings] == ["feed-items"] and "2 items" in many.warnings[0].message
    assert not one.warnings


@pytest.mark.parametrize("html_text, words", [
    ("<p>Norv&#275;&#291;ij&#257; un R&#299;ga</p>", "Norvēģijā un Rīga"),  # a Latvian page's every accent
    ("<p>La r&eacute;forme des retraites</p>", "La réforme des retraites"),
    ("<p><span class='dropcap'>T</span>he Euro<b>pean</b> bank&rsquo;s rate</p>", "The European bank’s rate"),
    ("<p>Bundes&shy;regierung und AT&amp;T</p>", "Bundes\u00adregierung und AT&T"),
])
def test_a_word_cut_by_an_entity_or_a_tag_reads_as_one_word(html_text, words):
    """Its reading copy cut it: "Norvē     ģ     ij ā". What the tag or entity leaves inside a word is word
    joiners, which the tokenizers, the language detector and keywords leave out; offsets are kept."""
    copy = readable(html_text)
    assert len(copy) == len(html_text)
    assert " ".join(copy.replace(WORD_JOINER, "").split()) == words


@pytest.mark.parametrize("html_text", ["<p>Rates rose.</p><p>Markets fell.</p>", "Rates rose.</a> <a>Markets fell.",
                                       "<li>Rates</li><li>Markets</li>", "Rates &amp; markets", "rose<br>Markets"])
def test_tags_and_entities_between_words_stay_spaces(html_text):
    assert WORD_JOINER not in readable(html_text)


def test_an_article_with_entity_written_letters_reads_as_its_plain_text(tagger):
    html_text = ("<p>The central bank&rsquo;s governor said the gover&shy;nment&#8217;s budget would cut the "
                 "de&#102;icit, and in&shy;flation would fall next year.</p><p>Markets rose after the "
                 "an<b>nounce</b>ment.</p>")
    plain = ("The central bank’s governor said the government’s budget would cut the deficit, and inflation "
             "would fall next year.\n\nMarkets rose after the announcement.")
    [read], [alone] = tagger.tag([html_text], threshold=0.0, top_k=5), tagger.tag([plain], threshold=0.0, top_k=5)
    assert [(t.label, round(t.score, 4)) for t in read.topics] == [(t.label, round(t.score, 4)) for t in alone.topics]
