"""A press release's trailer is not its news: the company's "About" paragraph, its media contacts,
its forward-looking statements.

Every release of a company ends with the same boilerplate ("About Ferrox Mining / Ferrox Mining plc
is a diversified mining company ..."), so every release of a mining company got mining, whatever
it announced: 40 BBC News articles with such a trailer got 38 topics more and 6 fewer than alone,
and 56 evidence sentences quoted the trailer (docs/benchmarks.md, "Press releases"). A trailer
begins at a line that only a trailer begins with, in the text's last three quarters:

- an end mark on its own line: "###", "-ENDS-", "-30-";
- a heading on its own line: "Notes to editors", "Editor's note", "Forward-looking statements",
  "Safe harbor statement"; or a contact, its details after it or not: "Media contact(s)", "Press
  contact", "Investor relations";
- "About <Name>" whose next words are the name again ("About Ferrox Mining" then "Ferrox Mining
  plc is ..."): an explainer's subheading ("About the new law") is not followed by its own words.

The reading copy blanks it (same length, so offsets still slice the text as sent).
"""

from __future__ import annotations

import re

# Where a trailer may begin: not in the first quarter of the text (a release is mostly its news).
EARLIEST = 0.25
_END_MARK = re.compile(r"^[ \t]*(?:#[ \t]*#[ \t]*#|-{1,3}[ \t]*(?:ends?|30)[ \t]*-{1,3})[ \t]*$", re.I | re.M)
_HEADING = re.compile(
    r"^[ \t]*(?:notes?[ \t]+(?:to|for)[ \t]+editors?|editor'?s'?[ \t]+notes?|forward[- ]looking[ \t]+statements?"
    r"|safe[ \t]+harbou?r(?:[ \t]+statement)?|cautionary[ \t]+(?:note|statement)s?(?:[ \t]+regarding[^\n]{0,60})?)"
    r"[ \t]*:?[ \t]*$", re.I | re.M)
# Contacts may give theirs on the same line: "Media contact: Jane Doe, press@example.com".
_CONTACT = re.compile(r"^[ \t]*(?:(?:media|press|news)[ \t]+(?:contacts?|enquiries|inquiries)|investor[ \t]+"
                      r"(?:relations|contacts?))[ \t]*(?::[^\n]*)?$", re.I | re.M)
# "About Name" then, after a colon or a line break, the name's first word again.
_ABOUT = re.compile(r"^[ \t]*About[ \t]+(?P<first>[A-Z][\w&'.-]*)[^\n:]{0,80}?[ \t]*(?::[ \t]*|\n\s*)(?P=first)\b",
                    re.M)


def trailer_start(text: str) -> int | None:
    """Where ``text``'s press-release trailer begins, or None when it has none."""
    # A quarter of what the text shows: a page's copy (page_article.py) is mostly blanks before its article.
    first, last = len(text) - len(text.lstrip()), len(text.rstrip())
    earliest = first + int((last - first) * EARLIEST)
    starts = [match.start() for pattern in (_END_MARK, _HEADING, _CONTACT, _ABOUT)
              if (match := pattern.search(text, earliest)) is not None]
    return min(starts) if starts else None


def without_trailer(text: str) -> str:
    """``text`` with its trailer blanked (spaces, its line breaks kept), or ``text`` itself."""
    start = trailer_start(text)
    if start is None:
        return text
    return text[:start] + re.sub(r"[^\n]", " ", text[start:])
