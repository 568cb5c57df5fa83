"""Request and response shapes of the /v1 API, as pydantic models.

The same models validate requests and produce the OpenAPI document, so the spec
describes exactly what the service accepts and returns.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..config import Settings
from ..engine import Label
from ..engine.tagger import is_unicode
from .problems import ValidationFailed

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# An article: at least one character that is not whitespace (JSON Schema patterns search, unanchored).
Text = Annotated[str, StringConstraints(pattern=r"\S")]
TEXT_MESSAGE = "text is empty or only whitespace"


class _Strict(BaseModel):
    # Unknown fields are errors (a typo like "treshold" must not pass silently), and
    # types are not coerced ("true" is not a boolean).
    model_config = ConfigDict(extra="forbid", strict=True)


class LabelObject(_Strict):
    name: Name
    description: str = Field("", max_length=2000)
    keywords: list[Name] = Field(default_factory=list, max_length=100)

    def to_label(self) -> Label:
        return Label(self.name.strip(), self.description.strip(), tuple(k.strip() for k in self.keywords))


class ClassifyOptions(_Strict):
    labels: list[Name | LabelObject] | None = Field(
        None, description="Labels for this request; they replace the taxonomy.")
    taxonomy: str | None = Field(None, description="A taxonomy name; default: news.")
    multi_label: bool = Field(True, description="False returns exactly one topic, the best.")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="Overrides the per-label thresholds.")
    top_k: int | None = Field(None, ge=1, description="At most this many topics per text.")
    evidence: bool = Field(True, description="Attach the sentences that support each topic.")
    model: str | None = Field(None, description="A loaded model's name, which then tags every text; default: the "
                              "default model, with texts in other languages routed to the multilingual model "
                              "when it is installed.")

    def engine_labels(self) -> list[str | Label] | None:
        if self.labels is None:
            return None
        return [lab.to_label() if isinstance(lab, LabelObject) else lab for lab in self.labels]


class TextRequest(ClassifyOptions):
    text: Text


class Document(_Strict):
    id: Name
    text: Text


class BatchDocument(Document):
    """One line of a bulk file (service.batch): the API's document, its id optional."""

    id: Name | None = None  # type: ignore[assignment]  # optional here only


class DocumentsRequest(ClassifyOptions):
    documents: list[Document] = Field(min_length=1)


class EvidenceOut(BaseModel):
    text: str
    start: int = Field(description="Character offset: text == article[start:end].")
    end: int
    score: float = Field(ge=0.0, le=1.0)


class TopicOut(BaseModel):
    label: str
    score: float = Field(ge=0.0, le=1.0)
    code: str | None = Field(None, description="Taxonomy code (IPTC Media Topic), when the label has one.")
    evidence: list[EvidenceOut]


class ModelOut(BaseModel):
    name: str
    kind: str = Field(description="embedding (zero-shot), nli (zero-shot) or classifier (fine-tuned).")
    version: str = Field(description="First 12 hex digits of the weights' SHA-256; with the topic matcher "
                         "merged in, then \"+\" and the first 8 of the adapter's.")


LANGUAGE_DESCRIPTION = "The text's language (ISO 639-1), or \"und\" when it cannot be told."
WARNINGS_DESCRIPTION = ("What may make these topics less reliable, e.g. a language the model was not "
                        "trained on: {\"code\": \"language-unsupported\", \"message\": ...}.")
SERVED_DESCRIPTION = ("The model that tagged this text: the default model, or the multilingual model for a "
                      "language the default does not read (routing by language), or the model the request named.")


class WarningOut(BaseModel):
    code: str
    message: str


class TextResponse(BaseModel):
    topics: list[TopicOut]
    language: str = Field(description=LANGUAGE_DESCRIPTION)
    warnings: list[WarningOut] = Field(description=WARNINGS_DESCRIPTION)
    model: ModelOut = Field(description=SERVED_DESCRIPTION)
    taxonomy: str | None = Field(description="The taxonomy used, or null when the request gave labels.")


class DocumentResult(BaseModel):
    id: str
    topics: list[TopicOut]
    language: str = Field(description=LANGUAGE_DESCRIPTION)
    warnings: list[WarningOut] = Field(description=WARNINGS_DESCRIPTION)
    model: ModelOut = Field(description=SERVED_DESCRIPTION)


class DocumentsResponse(BaseModel):
    results: list[DocumentResult]
    model: ModelOut = Field(description="The model asked for (the default unless the request named one); each "
                            "result's model is the one that tagged it.")
    taxonomy: str | None


class TaxonomySummary(BaseModel):
    name: str
    title: str
    description: str
    topics: int
    default: bool


class TaxonomyList(BaseModel):
    taxonomies: list[TaxonomySummary]


class TaxonomyTopic(BaseModel):
    name: str
    description: str
    keywords: list[str]
    code: str | None
    parent: str | None
    threshold: float | None


class TaxonomyDetail(BaseModel):
    name: str
    title: str
    description: str
    threshold: float
    topics: list[TaxonomyTopic]


class ModelInfo(ModelOut):
    default: bool
    ready: bool
    labels: list[str] | None = Field(description="Fixed labels of a fine-tuned model; null for zero-shot ones.")
    metrics: dict[str, float] | None = Field(description="A fine-tuned model's validation metrics.")


class ModelList(BaseModel):
    models: list[ModelInfo]
    errors: dict[str, str] = Field(description="Model directories that were not loaded, and why.")


class FieldError(BaseModel):
    path: str = Field(description="JSON pointer to the offending field, e.g. /documents/0/text.")
    message: str


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


def _pointer(loc: tuple[Any, ...]) -> str:
    # pydantic puts the union member's name in the location ("str", "LabelObject"); drop it.
    parts = [str(p) for p in loc
             if not (isinstance(p, str) and (p in ("str", "constrained-str") or p[:1].isupper()))]
    return "/" + "/".join(parts)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    seen: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        message = TEXT_MESSAGE if error["type"] == "string_pattern_mismatch" else error["msg"]
        seen.setdefault(_pointer(error["loc"]), message)
    # For "string or object" fields, an error inside the object says more than "not a string".
    return [{"path": path, "message": message} for path, message in seen.items()
            if not any(other.startswith(path + "/") for other in seen)]


def _check_text(path: str, text: str, settings: Settings, errors: list[dict[str, str]]) -> None:
    if not is_unicode(text):
        errors.append({"path": path, "message": "text is not valid Unicode (it has a lone surrogate)"})
    elif not text.strip():
        errors.append({"path": path, "message": TEXT_MESSAGE})
    elif len(text) > settings.max_text_chars:
        errors.append({"path": path, "message": f"text is longer than {settings.max_text_chars} characters"})


def parse_classify(data: Any, settings: Settings) -> TextRequest | DocumentsRequest:
    """Validate a /v1/classify body, or raise ValidationFailed naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object", errors=[{"path": "/", "message": "not an object"}])
    if ("text" in data) == ("documents" in data):
        raise ValidationFailed("give either 'text' or 'documents'",
                               errors=[{"path": "/", "message": "exactly one of text, documents is required"}])
    model = TextRequest if "text" in data else DocumentsRequest
    try:
        request = model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("the request has invalid fields", errors=_field_errors(exc)) from None
    errors: list[dict[str, str]] = []
    if isinstance(request, TextRequest):
        _check_text("/text", request.text, settings, errors)
    else:
        if len(request.documents) > settings.max_documents:
            errors.append({"path": "/documents", "message": f"at most {settings.max_documents} documents"})
        for i, doc in enumerate(request.documents[: settings.max_documents]):
            _check_text(f"/documents/{i}/text", doc.text, settings, errors)
    if request.labels is not None and len(request.labels) > settings.max_labels:
        errors.append({"path": "/labels", "message": f"at most {settings.max_labels} labels"})
    if request.labels is not None and not request.labels:
        errors.append({"path": "/labels", "message": "labels must name at least one label"})
    if errors:
        raise ValidationFailed("the request has invalid fields", errors=errors)
    return request
