"""Taxonomies: named label sets kept as YAML data files, validated on load.

The built-in ones live in ``service/taxonomies/``; users add their own by pointing
``NEWSTAG_TAXONOMIES_DIR`` at a directory of ``*.yaml`` files in the same format.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ..errors import TaxonomyFileError, UnknownTaxonomyError
from .taxonomy_checks import check_topics, shown
from .types import Label
from .validation import MAX_KEYWORDS, shows_nothing
from .yaml_file import DuplicateKey, NotAFile, parse_yaml, read_regular_file, yaml_problem

log = logging.getLogger("newstag.taxonomy")
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "taxonomies"


# The API's limits (http/schemas.py): a file may hold no name or description a request could not
# carry, or /v1/classify and /v1/feedback would refuse the taxonomy's own names with 422.
MAX_NAME_CHARS = 200  # a taxonomy's name, a label's name
MAX_DESCRIPTION_CHARS = 2000  # a label's description


class _TopicEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # YAML gives types: "yes" is not a bool

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS)
    keywords: list[str] = Field([], max_length=MAX_KEYWORDS)  # a request's limit: each is embedded once
    code: str | None = Field(None, max_length=MAX_NAME_CHARS)  # both returned in every answer
    parent: str | None = Field(None, max_length=MAX_NAME_CHARS)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    yields_to: list[str] = Field([], max_length=MAX_KEYWORDS)  # topics of the same file (types.Label)
    ruled_out_by: list[str] = Field([], max_length=MAX_KEYWORDS)  # phrases, matched as keywords are

    @field_validator("name", "description")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        # min_length is checked before the strip: "   " passed it; a zero-width space alone shows nothing.
        if shows_nothing(value):
            raise ValueError("a topic name must not be empty or only whitespace or invisible characters")
        return _no_control_characters(value, "a topic name")

    @field_validator("code", "parent")
    @classmethod
    def _printable(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _no_control_characters(value, f"a topic's {info.field_name}")

    @field_validator("keywords", "ruled_out_by", "yields_to")
    @classmethod
    def _non_empty(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # yields_to's names are stripped as topic names are: "transport " named no topic.
        if any(not k.strip() for k in value):
            raise ValueError(f"{info.field_name} must not be empty strings")
        long = next((k for k in value if len(k.strip()) > MAX_NAME_CHARS), None)
        if long is not None:  # a keyword is a phrase matched literally, not a passage
            what = {"keywords": "a keyword", "ruled_out_by": "a phrase"}.get(info.field_name or "", "a name")
            raise ValueError(f"{what} has {len(long.strip()):,} characters; at most {MAX_NAME_CHARS}")
        return [k.strip() for k in value]


def _no_control_characters(value: str, what: str) -> str:
    control = next((c for c in value if unicodedata.category(c) == "Cc"), None)
    if control is not None:  # corrections cannot store a NUL; a tab or line break in a name is a slip
        raise ValueError(f"{what} must not contain control characters (U+{ord(control):04X})")
    return value


class _TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # YAML gives types: "yes" is not a bool

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str = ""
    description: str = ""
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # Whether a topic may also come from single sentences the article leans on (see
    # engine/sentence_support.py): right for a vocabulary of fine topics an article has several of.
    sentence_topics: bool = False
    # Whether a text the genre check is sure is news gets its best topic when none reaches
    # its threshold (with a below-threshold warning): right for a vocabulary meant to cover
    # every news article, where "no topic" means the scores were unsure, not that none applies.
    at_least_one_topic: bool = False
    topics: list[_TopicEntry] = Field(min_length=1)


@dataclass(frozen=True)
class Taxonomy:
    name: str
    title: str
    description: str
    threshold: float
    labels: tuple[Label, ...]
    source: Path
    sentence_topics: bool = False
    at_least_one_topic: bool = False


def _describe(error: Any, raw: dict) -> str:
    """'topics[3] ("economy").keywords: ...' from a pydantic error."""
    loc = error["loc"]
    where = ".".join(str(p) for p in loc) or "(top level)"
    if len(loc) >= 2 and loc[0] == "topics" and isinstance(loc[1], int):
        entry = raw.get("topics", [])[loc[1]]
        # A name YAML read as something else (on: True) is not shown as if it were the name written.
        name = shown(entry.get("name")) if isinstance(entry, dict) and isinstance(entry.get("name"), str) else None
        rest = ".".join(str(p) for p in loc[2:])
        where = f"topics[{loc[1]}]" + (f' ("{name}")' if name else "") + (f".{rest}" if rest else "")
    read_as = {bool: "a boolean (as YAML reads on, off, yes, no, true and false)", int: "a number",
               float: "a number", dict: "a mapping (a colon and a space in it)"}.get(type(error.get("input")))
    if error["type"] == "string_type" and read_as:  # "- name: on" was reported as ("True").name
        return f"{where}: YAML read this value as {read_as}: put it in quotes to keep it as text"
    if error["type"] == "list_type" and isinstance(error.get("input"), str):  # keywords: city council, councillors
        return f'{where}: YAML read this value as one text, not a list: write it [a, b] or one "- a" line each'
    if error["type"] == "list_type" and isinstance(error.get("input"), dict):  # yields_to: {mining}
        return (f'{where}: YAML read this value as a mapping, not a list: write it [a, b] (brackets, not braces) '
                'or one "- a" line each')
    if error["type"] == "list_type" and error.get("input") is None and len(loc) == 3:  # a topic's "keywords:"
        return f"{where}: YAML read this value as empty, not a list: write [] or leave the line out"
    return f"{where}: {error['msg']}"


SHOWN_ERRORS = 10


def _describe_all(errors: list[Any], raw: dict) -> str:
    """Every mistake of the file on one line (the first ten, then how many more): naming only the
    first, a desk with a typo in three of its topics restarted three times to learn of them."""
    shown = "; ".join(_describe(error, raw) for error in errors[:SHOWN_ERRORS])
    return shown + (f"; and {len(errors) - SHOWN_ERRORS} more" if len(errors) > SHOWN_ERRORS else "")


def load_taxonomy_file(path: Path) -> Taxonomy:
    """Read and validate one taxonomy file; errors name the file and the entry."""
    try:
        raw = parse_yaml(read_regular_file(path))
    except NotAFile as exc:
        raise TaxonomyFileError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise TaxonomyFileError(f"{path}: cannot read taxonomy: {yaml_problem(exc)}") from exc
    except UnicodeDecodeError as exc:  # a Windows editor's "ANSI" (cp1252) or UTF-16
        before = exc.object[:exc.start]  # valid UTF-8: the first byte that is not is at exc.start
        line, column = before.count(b"\n") + 1, len(before[before.rfind(b"\n") + 1:].decode("utf-8")) + 1
        raise TaxonomyFileError(f"{path}: cannot read taxonomy: not UTF-8 (byte 0x{exc.object[exc.start]:02x} at "
                                f"line {line}, column {column}): save it as UTF-8") from None
    except OSError as exc:
        raise TaxonomyFileError(f"{path}: cannot read taxonomy: {exc}") from exc
    except DuplicateKey as exc:
        raise TaxonomyFileError(f"{path}: {exc}") from None
    except RecursionError:  # PyYAML's composer recurses per level: "[[[[...]]]]" 500 deep reached the limit
        raise TaxonomyFileError(f"{path}: cannot read taxonomy: nested too deeply") from None
    if not isinstance(raw, dict):
        raise TaxonomyFileError(f"{path}: a taxonomy file must be a mapping with 'name' and 'topics'")
    try:
        parsed = _TaxonomyFile.model_validate(raw)
    except ValidationError as exc:
        raise TaxonomyFileError(f"{path}: {_describe_all(exc.errors(), raw)}") from exc
    check_topics(path, parsed.topics)
    labels = tuple(
        Label(t.name, t.description, tuple(t.keywords), t.code, t.parent, t.threshold, tuple(t.yields_to),
              tuple(t.ruled_out_by))
        for t in parsed.topics
    )
    return Taxonomy(parsed.name, parsed.title, parsed.description, parsed.threshold, labels, path,
                    parsed.sentence_topics, parsed.at_least_one_topic)


def _taxonomy_files(directory: Path) -> list[Path]:
    """The directory's *.yaml and *.yml files, hidden ones left out: macOS's AppleDouble
    "._desk.yaml" and emacs's lock link ".#desk.yaml" stopped start-up. A Kubernetes ConfigMap
    mount still loads: its files are links "desk.yaml -> ..data/desk.yaml", not hidden."""
    found = []
    try:
        if not directory.is_dir():
            raise TaxonomyFileError(f"{directory}: " + ("not a directory: name the directory that holds the "
                                                        "taxonomy files" if directory.exists()
                                                        else "taxonomy directory does not exist"))
        entries = sorted(directory.iterdir())
    except OSError as exc:  # a directory the service's user cannot search or list
        raise TaxonomyFileError(f"{directory}: cannot read the taxonomy directory ({exc.strerror or exc})") from exc
    for path in entries:
        if path.suffix.lower() not in (".yaml", ".yml"):
            continue
        if path.name.startswith("."):
            log.info("%s: skipped: a hidden file is no taxonomy", path)
            continue
        found.append(path)
    return found


class TaxonomyRegistry:
    """All taxonomies found in the built-in directory and the user's, by name."""

    def __init__(self, extra_dirs: list[Path] | None = None):
        self._taxonomies: dict[str, Taxonomy] = {}
        for directory in [BUILTIN_DIR, *(extra_dirs or [])]:
            found: dict[str, Path] = {}
            for path in _taxonomy_files(directory):
                taxonomy = load_taxonomy_file(path)
                # One would silently hide the other; "Desk" beside "desk" is a request's typo waiting to happen.
                key = taxonomy.name.lower()
                if key in found:
                    raise TaxonomyFileError(f"{path}: taxonomy {taxonomy.name!r} is named in {found[key]} too (in "
                                            "any case): give each file its own name")
                found[key] = path
                other_case = next((n for n in self._taxonomies if n.lower() == key and n != taxonomy.name), None)
                if other_case is not None:
                    raise TaxonomyFileError(f"{path}: taxonomy {taxonomy.name!r} differs from the built-in "
                                            f"{other_case!r} only in case: name it {other_case!r} to replace it, "
                                            "or give it a name of its own")
                if taxonomy.name in self._taxonomies:
                    log.info("taxonomy %r from %s replaces the built-in one", taxonomy.name, path)
                self._taxonomies[taxonomy.name] = taxonomy  # a user's file may replace a built-in

    @classmethod
    def load(cls, user_dir: Path | None = None, default: str | None = None) -> TaxonomyRegistry:
        """The built-in taxonomies and those in ``user_dir``; with ``default``, checked to
        exist now, so a bad setting stops start-up rather than the first request."""
        registry = cls([user_dir] if user_dir else [])
        if default is not None:
            registry.get(default)
        return registry

    def names(self) -> list[str]:
        return sorted(self._taxonomies)

    def get(self, name: str) -> Taxonomy:
        try:
            return self._taxonomies[name]
        except KeyError:
            known = ", ".join(self.names())
            raise UnknownTaxonomyError(f"unknown taxonomy {name!r} (known: {known})") from None

    def __iter__(self):
        return iter(self._taxonomies[n] for n in self.names())


# The server's taxonomies as gunicorn's master read them before forking (preflight). Every
# worker serves that reading, the ones started later too: a worker restarted after a file was
# broken (a ConfigMap edited in place) re-read it, failed to boot, and gunicorn stopped the
# whole server; a valid edit left workers with different taxonomies. Changes need a restart.
_read_at_start: tuple[Path | None, TaxonomyRegistry] | None = None


def keep_for_workers(user_dir: Path | None, registry: TaxonomyRegistry) -> None:
    """Called in gunicorn's master, before any worker forks."""
    global _read_at_start
    _read_at_start = (user_dir, registry)


def served_taxonomies(user_dir: Path | None, default: str) -> TaxonomyRegistry:
    """The master's reading of ``user_dir`` when there is one (under gunicorn), else read now."""
    if _read_at_start is not None and _read_at_start[0] == user_dir:
        registry = _read_at_start[1]
    else:
        registry = TaxonomyRegistry.load(user_dir)
    registry.get(default)
    return registry
