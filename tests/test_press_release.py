"""A press release's trailer (About the company, contacts, legal boilerplate) is not read as its news."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.engine import Tagger
from service.engine.page_article import reading_copy
from service.engine.press_release import trailer_start, without_trailer

RELEASE = (
    "Harbour City hospitals to cut waiting lists with new surgical centre\n\n"
    "LONDON, 7 December 2026 - The Harbour City hospital trust said on Monday it would open a surgical centre "
    "next spring to treat 20,000 more patients a year and cut waiting lists for hip and knee operations.\n\n"
    "Patients have waited on average 46 weeks for such operations, against a target of 18, the trust said. "
    "The centre will have six operating theatres and 40 beds, and doctors and nurses will be hired for it.\n\n"
    "\"Nobody should wait a year in pain for a new hip,\" the trust's medical director said.\n\n"
)
TRAILER = (
    "###\n\n"
    "About Quarrystone Resources\n"
    "Quarrystone Resources plc is a copper and gold mining company with mines in Peru and Zambia, listed on "
    "the London Stock Exchange. It funds the trust's new centre through its community programme.\n\n"
    "Media contact:\nPress office, press@quarrystone.example, +44 20 7946 0999\n"
)


@pytest.mark.parametrize("trailer", [
    "###\nAbout Acme\nAcme is a bank.",
    "-ENDS-\nNotes to editors\n1. Acme is a bank.",
    "Notes to editors:\n1. The survey was carried out online.",
    "About Acme Corporation\nAcme is a leading maker of widgets.",
    "About Acme Health: Acme Health is a charity.",
    "Media contact: Jane Doe, press@acme.example",
    "Forward-Looking Statements\nThis release contains forward-looking statements.",
    "Safe Harbor Statement\nStatements here are not guarantees.",
    "- 30 -",
    "ENDS\n\nMedia contact\nPress office",
    "For further information, please contact:\nJane Doe",
    "About the University of Eastmoor\nThe University of Eastmoor is a research university.",
    "About Northgate Ridge Minerals Corp.\nNorthgate Ridge is an exploration company.",
    "About Ashbury Rovers FC\nFounded in 1887, Ashbury Rovers are a football club.",
    "À propos de Lumivert\nFondée en 2012 à Lyon, Lumivert exploite des centrales solaires.",
    "Über die Stadtwerke Hohenfels\nDie Stadtwerke Hohenfels versorgen 140.000 Haushalte.",
    "Contacts presse :\nMarc Lefèvre",
])
def test_a_trailer_is_found_where_it_begins(trailer):
    body = "The company said on Monday that profits rose by a fifth in the third quarter. " * 3
    text = body + "\n\n" + trailer
    assert trailer_start(text) == len(body) + 2
    blanked = without_trailer(text)
    assert len(blanked) == len(text) and blanked[:len(body)] == body and not blanked[len(body):].strip()


@pytest.mark.parametrize("ending", [
    "About the new law\nThe law, passed on Monday, raises the minimum wage by a tenth.",  # an explainer's subheading
    "About 300 people gathered outside parliament on Monday evening.",
    "Acme, which describes itself as a leading bank, declined to comment. Contact tracing has begun.",
    "Russia said it would reply. About Russia's reply, officials said little.",
    "About the author of the report: Professor Nadia Karimi, who led it, said the figures were clear.",
    # A hard-wrapped line that begins with "about" or "About" and names a name again below it
    "the book is mostly\nabout the Shi'ites (esp. since the revolution), there are also\ngood works by Shi'ites",
    "It is\nAbout SCSI-1 or SCSI-2 or SCSI over all SCSI-1 AND SCSI-2 devices, and\nSCSI-2 is faster.",
])
def test_a_news_ending_that_looks_like_a_trailer_is_kept(ending):
    text = "The minister said on Monday that the plan would go ahead despite protests. " * 3 + "\n\n" + ending
    assert trailer_start(text) is None and without_trailer(text) is text


def test_an_end_mark_in_the_first_quarter_is_not_a_trailer():
    text = "###\n\n" + "The central bank raised rates on Thursday, and markets fell. " * 4
    assert trailer_start(text) is None


def test_a_releases_trailer_gives_it_no_topic_and_no_evidence(tagger):
    """Read whole, the mining company's trailer gave a hospital release mining (and quoted it)."""
    whole = Tagger(tagger.backend, tagger.taxonomies, replace(tagger.options, pages="whole"))
    [read_whole] = whole.tag([RELEASE + TRAILER])
    [release] = tagger.tag([RELEASE + TRAILER])
    [alone] = tagger.tag([RELEASE])
    assert "mining" in [t.label for t in read_whole.topics]  # the trailer matters to the model
    assert [(t.label, t.score) for t in release.topics] == [(t.label, t.score) for t in alone.topics]
    assert "health" in [t.label for t in release.topics]
    for topic in release.topics:
        for evidence in topic.evidence:
            assert evidence.end <= len(RELEASE) and (RELEASE + TRAILER)[evidence.start:evidence.end] == evidence.text


def test_a_pages_copy_drops_the_trailer_too():
    page = ("<!DOCTYPE html><html><body><article>" + "".join(f"<p>{p}</p>" for p in RELEASE.split("\n\n") if p)
            + "".join(f"<p>{p}</p>" for p in TRAILER.split("\n\n")) + "</article></body></html>")
    copy = reading_copy(page)
    assert len(copy) == len(page) and "Quarrystone" not in copy and "surgical centre" in copy
