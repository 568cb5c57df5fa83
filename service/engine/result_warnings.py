"""The warnings a result carries: a language the model cannot read, a text that does not read
like news, a topic given under its threshold. Each says what happened and what it means."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

from . import markup
from .genre import called_non_news
from .language import LATIN_SCRIPT_LANGUAGES, UNDETERMINED, label_set_language, mostly_latin, plainly_not_english
from .types import Topic, Warning


def labels_language_warning(names: tuple[str, ...], supported: Collection[str] | None,
                            model_name: str) -> tuple[Warning, ...]:
    """A warning when the caller's labels (``names``: their names, descriptions and keywords,
    language.label_words) are written in a script and language the model was not trained on:
    "экономика, спорт" against an English-only model scored nothing, silently. Labels in
    Latin letters are left alone: "Sport" is German, English and French alike."""
    if supported is None or mostly_latin(" ".join(names)):
        return ()
    code = label_set_language(names)
    if code == UNDETERMINED:
        # Too few names to tell their language ("спорт, культура"), but their script says it is
        # not one of a Latin-script model's: as for a short text (text_language_warning).
        if not set(supported) <= LATIN_SCRIPT_LANGUAGES:
            return ()
        message = (f"The labels (their names, descriptions and keywords) are too short to tell their language, "
                   f"but they are written in another script than Latin; the model {model_name!r} was trained on "
                   f"{', '.join(sorted(supported))} only, so it cannot read them: write them in its language.")
        return (Warning("language-unsupported", message),)
    if code in supported:
        return ()
    message = (f"The labels (their names, descriptions and keywords) look like language {code!r}; the model "
               f"{model_name!r} was trained on {', '.join(sorted(supported))} only, so it cannot read them: "
               "write them in its language.")
    return (Warning("language-unsupported", message),)


def text_language_warning(code: str, supported: Collection[str] | None, model_name: str,
                          text: str = "") -> tuple[Warning, ...]:
    """A warning when the text's language (``code``) is not one the model was trained on; when it
    is too short to tell ("und"), when its script is not Latin and the model reads Latin-script
    languages only ("Путин посетил Баку" got no warning from the English model)."""
    if supported is None or code in supported:
        return ()
    if code == UNDETERMINED:
        # Letters proper: a tatweel or a modifier letter alone is nothing to read, not another script.
        letters = any(unicodedata.category(c) in ("Lu", "Ll", "Lt", "Lo") for c in text)
        beyond = plainly_not_english(text, supported)
        if beyond and mostly_latin(text):
            message = (f"The text is too short to tell its language, but it has letters English does not write "
                       f"({', '.join(beyond[:5])}); the model {model_name!r} was trained on English only, so its "
                       "topics may be wrong.")
            return (Warning("language-unsupported", message),)
        if not letters or not set(supported) <= LATIN_SCRIPT_LANGUAGES or mostly_latin(text):
            return ()
        message = (f"The text is too short to tell its language, but it is not written in Latin letters; the "
                   f"model {model_name!r} was trained on {', '.join(sorted(supported))} only, so its topics may "
                   "be wrong.")
        return (Warning("language-unsupported", message),)
    message = (f"The text looks like language {code!r}; the model {model_name!r} "
               f"was trained on {', '.join(sorted(supported))} only, so its topics may be wrong.")
    return (Warning("language-unsupported", message),)


def below_threshold_warning(topics: tuple[Topic, ...], threshold: float, news_probability: float | None,
                             multi_label: bool) -> tuple[Warning, ...]:
    """Why the best topic (``topics[0]``) is given though it scores under its threshold."""
    best = topics[0]
    if not multi_label:  # single-label mode answers its best label whatever its score: say how unsure it is
        message = (f"multi_label is false, so the best label is given whatever its score: {best.label!r} scores "
                   f"{best.score:.2f}, under the threshold ({threshold:g}) that a multi-label call applies.")
        return (Warning("below-threshold", message),)
    message = (f"No topic reached the threshold ({threshold:g}); the taxonomy gives a text that reads as news "
               f"(probability {news_probability:.2f}) its best topic anyway: {best.label!r}, with its own score "
               f"{best.score:.2f}.")
    return (Warning("below-threshold", message),)


def domain_warning(outside_domain: bool, model_name: str) -> tuple[Warning, ...]:
    """A warning when a fine-tuned model's domain check gave the text no topic (domain.py):
    an answer of no topics and no reason read as a model that found nothing it knew."""
    if not outside_domain:
        return ()
    message = (f"The text is unlike every label's training articles of the model {model_name!r}: multi-label "
               "calls give it none of its labels, and a single-label call's label is a guess.")
    return (Warning("outside-model-domain", message),)


def genre_warning(news_probability: float | None) -> tuple[Warning, ...]:
    """A warning when the genre check calls the text non-news (genre.py), so it gets no topic."""
    if not called_non_news(news_probability):
        return ()
    message = (f"The text does not read like news (probability {news_probability:.2f} that it is); "
               "multi-label calls give it no topic.")
    return (Warning("not-news", message),)


def feed_warning(text: str) -> tuple[Warning, ...]:
    """A warning when the text is a feed of several items: they are read as one text, so its
    topics are those of every item together, and no item's own."""
    items = markup.feed_items(text)
    if items < 2:
        return ()
    message = (f"The text is a feed of {items} items, read as one text: its topics are those of all of them "
               "together. Send each item (its <item> or <entry>) as a document of its own to tag it alone.")
    return (Warning("feed-items", message),)
