"""Routing by language: each text goes to the model that reads its language.

The default model (all-MiniLM-L6-v2) reads English only, and reads it fast; the optional
multilingual model (EmbeddingGemma-300m, ``make model-multilingual``) reads 100+
languages at about 8x the compute. With the multilingual model installed, a text in a
language the default model's card names (English; no other language measured anywhere
near as well on it: docs/benchmarks.md, "Multilingual") stays on the default model, and
a text in any other language goes to the multilingual model. A text whose language
cannot be told ("und": "Hello", numbers, code) stays on the default when it is in English's
Latin letters, a-z, and goes to the multilingual model when it is not ("ЦСКА", "Neft
bahalaşıb"); labels named in
another language or script send every text of the call there. Without the multilingual
model, every text stays on the default, and the language-unsupported warning says so.

Routing is per document: one call with texts in several languages runs each model on
its share, and every result names the model that tagged it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError
from ..options import EngineOptions
from . import validation
from .base_models import MULTILINGUAL_INSTALL_DIR
from .language import (
    UNDETERMINED,
    detect_language,
    label_set_language,
    label_words,
    mostly_latin,
    plainly_not_english,
)
from .model_files import model_languages
from .page_article import reading_copy
from .tagger import LabelLike, Tagger
from .taxonomy import TaxonomyRegistry
from .types import TagResult

log = logging.getLogger("newstag.routing")

# Where `make model-multilingual` installs EmbeddingGemma-300m (and the image bakes it in,
# under /app), relative to the working directory: NEWSTAG_MULTILINGUAL_MODEL=auto uses it
# when it is there.
DEFAULT_MULTILINGUAL_DIR = MULTILINGUAL_INSTALL_DIR
AUTO, OFF = "auto", "off"


def multilingual_dir(setting: str) -> Path | None:
    """The multilingual model's directory NEWSTAG_MULTILINGUAL_MODEL names, or None for no routing.

    ``auto``: DEFAULT_MULTILINGUAL_DIR when it is installed; ``off``: none; a path: that
    directory, which must exist (a typo must not silently turn routing off).
    """
    setting = setting.strip()
    if setting.lower() == OFF:
        return None
    if setting.lower() == AUTO:
        return DEFAULT_MULTILINGUAL_DIR if (DEFAULT_MULTILINGUAL_DIR / "config.json").is_file() else None
    path = Path(setting).expanduser()
    try:
        found = path.is_dir()
    except OSError as exc:  # a directory above it that the service's user may not search
        raise ConfigError(f"NEWSTAG_MULTILINGUAL_MODEL={setting!r}: cannot be read ({exc.strerror or exc})") from None
    if not found:
        raise ConfigError(f"NEWSTAG_MULTILINGUAL_MODEL={setting!r}: no such directory "
                          f"(install it with make model-multilingual, or set it to off)")
    return path


def base_search_path(setting: str) -> tuple[Path, ...]:
    """Where a fine-tuned model's referenced multilingual base is looked for first: the directory
    NEWSTAG_MULTILINGUAL_MODEL names, if any (base_models.find_base then tries the path the model
    recorded and the default install directory). A missing directory is the service's
    configuration error to report, not each model's."""
    try:
        path = multilingual_dir(setting)
    except ConfigError:
        return ()
    return (path,) if path is not None else ()


def load_tagger(options: EngineOptions, taxonomies: TaxonomyRegistry | None = None, *,
                lazy: bool = False) -> Tagger:
    """The options' model, routing other languages to the multilingual model when there is one.

    Args:
        options: NEWSTAG_MODEL (or the default model) and NEWSTAG_MULTILINGUAL_MODEL, among others.
        taxonomies: the taxonomies to tag with (default: those the options name).
        lazy: load the multilingual model when a text first needs it (the command line: with
            EmbeddingGemma installed, ``newstag tag`` of an English sentence spent 9 of its 16 s
            loading it); a server loads both before it is ready.

    Returns:
        A plain :class:`Tagger` when there is nothing to route (no multilingual model, the
        model named is the multilingual one, or its languages are not known), else a
        :class:`RoutedTagger`.
    """
    from .loading import load_backend

    if taxonomies is None:
        taxonomies = TaxonomyRegistry.load(options.taxonomies_dir, options.tagger.taxonomy)
    default = Tagger(load_backend(options.model), taxonomies, options.tagger)
    path = multilingual_dir(options.multilingual_model)
    if path is None or default.backend.languages is None:
        return default  # a model whose languages are not known is trusted with every text
    if options.model.model is not None and options.model.model.expanduser().resolve() == path.resolve():
        return default  # NEWSTAG_MODEL names the multilingual model: it serves everything
    if lazy:
        return RoutedTagger(default, lambda: _multilingual_tagger(options, path, default), model_languages(path))
    multilingual = _multilingual_tagger(options, path, default)
    if multilingual is default:
        return default
    log.info("texts in languages other than %s go to %s (%s)", ", ".join(sorted(default.backend.languages)),
             multilingual.backend.model_name, path)
    return RoutedTagger(default, multilingual)


def _multilingual_tagger(options: EngineOptions, path: Path, default: Tagger) -> Tagger:
    """The multilingual model's Tagger, or ``default`` when it cannot serve beside it."""
    from .loading import load_backend

    # The multilingual model is always an embedding model, whatever engine the default uses.
    try:
        backend = load_backend(replace(options.model, engine="embedding", model=path))
    except ConfigError as exc:
        # One optional model must not keep the service from ever being ready (int8 without its
        # ONNX graph kept every request, English ones too, at 503): the default serves alone,
        # and texts in other languages get its language-unsupported warning. A model or graph that
        # fails its check (ModelLoadError) is not this: it is refused, never silently left out.
        log.error("the multilingual model %s is not loaded, so texts in other languages stay on %s with a "
                  "warning: %s", path, default.backend.model_name, exc)
        default.left_out = {path.name: f"not loaded, so texts in other languages stay on "
                                       f"{default.backend.model_name}: {exc}"}
        return default
    if backend.model_version == default.backend.model_version:
        return default  # the same weights under another path
    return Tagger(backend, default.taxonomies, default.options)


class RoutedTagger(Tagger):
    """The default model's Tagger, which hands texts in other languages to the multilingual one.

    It is the default model's Tagger in every other respect (its backend, labels and
    taxonomies): only :meth:`tag` routes.

    Example:
        >>> tagger = load_tagger(Settings.from_env().engine_options())  # with EmbeddingGemma installed
        >>> [r.model for r in tagger.tag(["Rates rose again.", "Ставки снова выросли."])]
        ['all-MiniLM-L6-v2', 'embeddinggemma-300m']
    """

    def __init__(self, default: Tagger, multilingual: Tagger | Callable[[], Tagger],
                 reads: frozenset[str] | None = None):
        """``multilingual``: its Tagger, or what loads it when a text first needs it (``reads``:
        its languages, from its model card; it may load as ``default`` when it cannot serve)."""
        super().__init__(default.backend, default.taxonomies, default.options)
        self.default = default
        self._multilingual = multilingual if isinstance(multilingual, Tagger) else None
        self._load = None if isinstance(multilingual, Tagger) else multilingual
        self._reads = self._multilingual.backend.languages if self._multilingual is not None else reads
        self._loading = threading.Lock()

    @property
    def multilingual(self) -> Tagger:
        """The multilingual model's Tagger (loaded now, the first time, when it was left to the first text)."""
        if self._multilingual is None:
            with self._loading:
                if self._multilingual is None and self._load is not None:
                    self._multilingual = self._load()
        assert self._multilingual is not None
        return self._multilingual

    @property
    def models(self) -> dict[str, Tagger]:
        """The taggers it routes to, by model name, the default first (one not loaded yet is not named)."""
        loaded = (self.default,) if self._multilingual is None else (self.default, self._multilingual)
        return {t.backend.model_name: t for t in loaded}

    def _reads_language(self, code: str) -> bool:
        """Whether a text in language ``code`` (ISO 639-1, or "und") goes to the multilingual model."""
        kept = self.default.backend.languages
        if code == UNDETERMINED or kept is None or code in kept:
            return False
        return self._reads is None or code in self._reads

    def _labels_need_multilingual(self, labels: Sequence[LabelLike] | None, taxonomy: str | None) -> bool:
        words = self._label_words(labels, taxonomy)
        code = label_set_language(words)  # it keeps its answers: a taxonomy is read once
        if code == UNDETERMINED:
            # Too few names to tell their language, but not in Latin letters ("спорт, культура"):
            # not the English model's, as a short Cyrillic text is not (it gave no topic, no warning).
            return not mostly_latin(" ".join(words))
        return self._reads_language(code)

    def _label_words(self, labels: Sequence[LabelLike] | None, taxonomy: str | None) -> tuple[str, ...]:
        """What a model reads of the call's labels (or of its taxonomy's topics)."""
        if labels is not None:
            return label_words(labels)
        name = taxonomy if taxonomy is not None else self.default.options.taxonomy
        topics = self.default.taxonomies.get(name).labels  # an unknown name fails here as in Tagger.tag
        return label_words(topics)

    def tag(
        self,
        texts: Sequence[str],
        labels: Sequence[LabelLike] | None = None,
        *,
        taxonomy: str | None = None,
        multi_label: bool = True,
        threshold: float | None = None,
        top_k: int | None = None,
        evidence: bool = True,
        deadline: float | None = None,
        languages: Sequence[str] | None = None,
        readings: Sequence[str] | None = None,
    ) -> list[TagResult]:
        """:meth:`Tagger.tag`, each text by the model for its language, results in order."""
        validation.check_call(texts, labels, threshold, top_k, self.options)  # the same errors, before routing
        # Each text's reading copy made and its language told once: the tagger is given both (a whole
        # page is read as its article: page_article.py).
        article = self.options.pages == "article"
        reads = list(readings) if readings is not None else [reading_copy(text, article) for text in texts]
        codes = list(languages) if languages is not None else [detect_language(read).code for read in reads]
        if self._labels_need_multilingual(labels, taxonomy):
            # Labels named in a language the default model does not read ("экономика", a German
            # taxonomy): only the multilingual model can read them, whatever the text's language
            # (an English article got no topic and no warning).
            to_multilingual = [True] * len(texts)
        else:
            # A text too short to tell its language that is not in Latin letters (a Cyrillic
            # headline), or has letters English does not write ("Neft bahalaşıb"), is not one
            # for the English model either.
            # Their words, not their markup: "<h1 class=\"title\">ЦСКА</h1>" is not mostly Latin.
            kept = self.default.backend.languages
            to_multilingual = [self._reads_language(code) or (code == UNDETERMINED and (
                not mostly_latin(read) or bool(plainly_not_english(read, kept))))
                for code, read in zip(codes, reads, strict=True)]
        # The multilingual model is asked for (and so loaded, when that was left) only when a text goes there.
        routes = [self.multilingual if there else self.default for there in to_multilingual]
        results: list[TagResult | None] = [None] * len(texts)
        for tagger in dict.fromkeys(routes):  # one Tagger when the multilingual model could not load
            mine = [i for i, chosen in enumerate(routes) if chosen is tagger]
            if mine:
                tagged = tagger.tag([texts[i] for i in mine], labels, taxonomy=taxonomy, multi_label=multi_label,
                                    threshold=threshold, top_k=top_k, evidence=evidence, deadline=deadline,
                                    languages=[codes[i] for i in mine], readings=[reads[i] for i in mine])
                for i, result in zip(mine, tagged, strict=True):
                    results[i] = result
        return [r for r in results if r is not None]


def model_out(tagger: Tagger) -> dict[str, str]:
    """A model as results name it: {"name", "kind", "version"} (the API's and ``newstag tag --json``'s)."""
    backend = tagger.backend
    return {"name": backend.model_name, "kind": backend.kind, "version": backend.model_version}


def served_by(tagger: Tagger) -> dict[str, dict[str, str]]:
    """The models a tagger may hand a text to, by name: itself, and the multilingual model when it routes."""
    taggers = tagger.models if isinstance(tagger, RoutedTagger) else {tagger.backend.model_name: tagger}
    return {name: model_out(t) for name, t in taggers.items()}
