"""A press release's trailer is not its news: the company's "About" paragraph, its media contacts,
its forward-looking statements.

Every release of a company ends with the same boilerplate ("About Ferrox Mining / Ferrox Mining plc
is a diversified mining company ..."), so every release of a mining company got mining, whatever
it announced: 40 BBC News articles with such a trailer got 38 topics more and 6 fewer than alone,
and 56 evidence sentences quoted the trailer (docs/benchmarks.md, "Press releases"). A trailer
begins at a line that only a trailer begins with, in the text's last three quarters:

- an end mark on its own line: "###", "***", "-ENDS-", "ENDS", "-30-";
- a heading on its own line: "Notes to editors", "Editor's note", "Forward-looking statements",
  "Safe harbor statement", "Boilerplate", "Company profile", "By order of the board", "This
  announcement has been authorised for release ..." (and notes to editors in other languages);
- a contact, its details on the line or not: "Contacts", "Media contact(s)", "Media relations",
  "Press enquiries", "Investor relations", "For further information, please contact", "Issued by",
  "Contacts presse", "Pressekontakt", "Kontakt:";
- a heading "About <Name>" ("À propos de", "Über", ...) whose name comes again at once ("About
  Ferrox Mining" then "Ferrox Mining plc is ..."): an explainer's subheading ("About the new law")
  names no such name.

The reading copy blanks it (same length, so offsets still slice the text as sent).
"""

from __future__ import annotations

import re

# Where a trailer may begin: not in the first quarter of the text (a release is mostly its news).
EARLIEST = 0.25
_END_MARK = re.compile(
    r"^[ \t]*(?:#[ \t]*#[ \t]*#|\*[ \t]*\*[ \t]*\*|-{1,3}[ \t]*(?:ends?|30)[ \t]*-{1,3}|ends)[ \t]*$", re.I | re.M)
_HEADING = re.compile(
    r"^[ \t]*(?:notes?[ \t]+(?:to|for)[ \t]+editors?|editor'?s'?[ \t]+notes?|forward[- ]looking[ \t]+statements?"
    r"|safe[ \t]+harbou?r(?:[ \t]+statement)?|cautionary[ \t]+(?:note|statement)s?(?:[ \t]+regarding[^\n]{0,60})?"
    r"|boilerplate|(?:company|corporate)[ \t]+(?:profile|information|overview)"
    r"|(?:on[ \t]+behalf|by[ \t]+order)[ \t]+of[ \t]+the[ \t]+board(?:[ \t]+of[ \t]+directors)?"
    r"|this[ \t]+(?:announcement|release)[ \t]+(?:has[ \t]+been|was)[ \t]+(?:authori[sz]ed|approved)[ \t]+for"
    r"[ \t]+release[^\n]*"
    r"|notes?[ \t]+(?:aux|à[ \t]+l'attention[ \t]+des)[ \t]+r[ée]dactions?|hinweise?[ \t]+für[ \t]+redaktionen"
    r"|noot[ \t]+voor[ \t]+de[ \t]+redactie[^\n]*|informacja[ \t]+o[ \t]+spółce)"
    r"[ \t]*:?[ \t]*$", re.I | re.M)
# Contacts, in the languages releases are written in, their details on the same line or not:
# "Media contact: Jane Doe, press@example.com", "For further information, please contact:".
_CONTACT = re.compile(
    r"^[ \t]*(?:(?:(?:media|press|news)[ \t]+(?:contacts?|enquiries|inquiries|relations|office)"
    r"|investor[ \t]+(?:relations|contacts?)|contacts?|enquiries|inquiries|contacts?[ \t]+(?:presse|médias?)"
    r"|relations?[ \t]+(?:presse|médias)|presse?kontakte?|medienkontakte?|kontakt[ \t]+für[ \t]+medien"
    r"|contactos?[ \t]+(?:de[ \t]+)?prensa|contatti[ \t]+stampa)[ \t]*(?::[^\n]*)?"
    r"|for[ \t]+(?:further|more|additional)[ \t]+(?:information|details)[^\n]{0,40}contact[^\n]*"
    r"|for[ \t]+(?:all[ \t]+)?(?:media|press)[ \t]+(?:enquiries|inquiries)[^\n]*|(?:media|press)[ \t]+line[ \t]*:[^\n]*"
    r"|issued[ \t]+by[ \t]*:?(?:[ \t]+the[ \t]+[^\n]{0,80}(?:communications?|press|media)[^\n]*)?"
    r"|kontakt[ \t]*:[^\n]*|för[ \t]+(?:ytterligare|mer)[ \t]+information[^\n]{0,40}kontakta[^\n]*)$", re.I | re.M)
# A heading "About Name" (or its French, German, Spanish, Italian, Portuguese or Polish) alone on its
# line, of at most HEADING_WORDS words, whose name's first word (capitalised in the heading) comes
# again in the next 150 characters: "About Ashbury Rovers FC / Founded in 1887, Ashbury Rovers are
# ...". An explainer's "About the new law" has no such name, and a wrapped line that begins "About
# SCSI-1 or SCSI-2 ..." is longer than a heading.
HEADING_WORDS = 8
_ABOUT = re.compile(
    r"^[ \t]*(?P<heading>(?:About|ABOUT|À[ \t]+propos[ \t]+d[e']|Über|Acerca[ \t]+de|Sobre|Chi[ \t]+(?:siamo|è)"
    r"|O[ \t]+(?:firmie|spółce)|Om)[ \t]*[:-]?[ \t]*"
    r"(?i:(?:the|la|le|les|die|der|das|den|el|il|lo|a|o)[ \t]+|l')?"
    r"(?P<first>[A-ZÀ-Ý][\w&'.-]*)[^\n:!?]{0,80}?)[ \t]*(?::[ \t]*|\n\s*)(?P<after>[^\n]{0,150})", re.M)


def _about(text: str, earliest: int) -> int | None:
    """Where the first "About Name" heading at or after ``earliest`` begins."""
    for match in _ABOUT.finditer(text, earliest):
        name = re.escape(match.group("first").rstrip(".").lower())
        if len(match.group("heading").split()) <= HEADING_WORDS and re.search(
                rf"(?<!\w){name}(?!\w)", match.group("after").lower()):
            return match.start()
    return None


def trailer_start(text: str) -> int | None:
    """Where ``text``'s press-release trailer begins, or None when it has none."""
    # A quarter of what the text shows: a page's copy (page_article.py) is mostly blanks before its article.
    first, last = len(text) - len(text.lstrip()), len(text.rstrip())
    earliest = first + int((last - first) * EARLIEST)
    starts = [match.start() for pattern in (_END_MARK, _HEADING, _CONTACT)
              if (match := pattern.search(text, earliest)) is not None]
    if (about := _about(text, earliest)) is not None:
        starts.append(about)
    return min(starts) if starts else None


def without_trailer(text: str) -> str:
    """``text`` with its trailer blanked (spaces, its line breaks kept), or ``text`` itself."""
    start = trailer_start(text)
    if start is None:
        return text
    return text[:start] + re.sub(r"[^\n]", " ", text[start:])
