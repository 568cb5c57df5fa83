"""Plain data types shared by every caller of the engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Label:
    """A topic the tagger can assign.

    ``keywords`` are literal words or phrases (aliases) whose presence in a sentence counts
    as evidence for the label. ``threshold`` overrides the taxonomy's default threshold.
    ``yields_to`` names topics the model mistakes this one for: a text given one of them with
    a higher score does not get this one (a coal-mine blast is mining, not demining).
    ``ruled_out_by`` are phrases naming what the model mistakes it for: a text that says one of
    them and none of ``keywords`` does not get it (COP28 is not COP29). See rivals.py.
    """

    name: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    code: str | None = None
    parent: str | None = None
    threshold: float | None = None
    yields_to: tuple[str, ...] = ()
    ruled_out_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """A sentence that supports a topic: ``text == document[start:end]``."""

    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Topic:
    label: str
    score: float
    code: str | None = None
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``code`` is left out when the label has none."""
        out = asdict(self)
        out["evidence"] = [asdict(e) for e in self.evidence]
        if self.code is None:
            del out["code"]
        return out


# Every warning code a result can carry: the API's schema lists them (clients switch on them).
WARNING_CODES = ("language-unsupported", "not-news", "nothing-to-read", "outside-model-domain", "below-threshold",
                 "feed-items")


@dataclass(frozen=True)
class Warning:
    """Something that makes a result less reliable, e.g. a language the model does not read."""

    code: str  # a stable identifier such as "language-unsupported"
    message: str

    def __post_init__(self) -> None:
        if self.code not in WARNING_CODES:  # a new code belongs in WARNING_CODES, and so in the schema
            raise ValueError(f"unknown warning code {self.code!r}")


@dataclass(frozen=True)
class TagResult:
    """The topics of one text, highest score first, its language, warnings, tokens read, and the
    name of the model that tagged it (with routing by language, not always the default's)."""

    topics: tuple[Topic, ...] = field(default_factory=tuple)
    tokens: int = 0
    language: str = "und"  # ISO 639-1, "und" when it cannot be told
    warnings: tuple[Warning, ...] = ()
    # The taxonomy whose labels were scored; None for caller-given labels or a fine-tuned
    # model's own. The same for every text of a call, so to_dict leaves it to the caller.
    taxonomy: str | None = None
    model: str = ""  # the name of the model that tagged it (routing.py may pick it per text)

    def to_dict(self) -> dict[str, Any]:
        return {"topics": [t.to_dict() for t in self.topics], "language": self.language,
                "warnings": [asdict(w) for w in self.warnings]}
