"""Request and response shapes of the /v1 API, as pydantic models.

The same models validate requests and produce the OpenAPI document, so the spec
describes exactly what the service accepts and returns. Checking a body against them
(and against the engine's limits) is parsing.py's job.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from ..engine import Label
from ..engine.types import WARNING_CODES
from ..engine.validation import EMPTY

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# An article: at least one character that is not whitespace (JSON Schema patterns search, unanchored).
Text = Annotated[str, StringConstraints(pattern=r"\S")]
TEXT_MESSAGE = f"text {EMPTY}"  # the engine's words for it


def _whole_float_as_int(value: object) -> object:
    # JSON Schema counts 1.0 as an integer, and some clients' JSON writes whole numbers so.
    return int(value) if isinstance(value, float) and value.is_integer() else value


PositiveWholeNumber = Annotated[int, Field(ge=1), BeforeValidator(_whole_float_as_int)]


class Strict(BaseModel):
    # Unknown fields are errors (a typo like "treshold" must not pass silently), and
    # types are not coerced ("true" is not a boolean).
    model_config = ConfigDict(extra="forbid", strict=True)


class LabelObject(Strict):
    name: Name
    description: str = Field("", max_length=2000)
    keywords: list[Name] = Field(default_factory=list, max_length=100)

    def to_label(self) -> Label:
        return Label(self.name.strip(), self.description.strip(), tuple(k.strip() for k in self.keywords))


class ClassifyOptions(Strict):
    labels: list[Name | LabelObject] | None = Field(
        None, description="Labels for this request; they replace the taxonomy. Names must differ in more "
        "than case or Unicode composition (NFC): \"a\" and \"A\" are one label, and a blank name is refused.")
    taxonomy: Name | None = Field(
        None, description="A taxonomy name; default: the server's NEWSTAG_TAXONOMY (news unless set).")
    multi_label: bool = Field(True, description="False returns exactly one topic, the best.")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="Overrides the per-label thresholds.")
    top_k: PositiveWholeNumber | None = Field(None, description="At most this many topics per text.")
    evidence: bool = Field(True, description="Attach the sentences that support each topic.")
    model: Name | None = Field(None, description="A loaded model's name, which then tags every text; default: the "
                              "default model, with texts in other languages routed to the multilingual model "
                              "when it is installed.")

    def engine_labels(self) -> list[str | Label] | None:
        if self.labels is None:
            return None
        return [lab.to_label() if isinstance(lab, LabelObject) else lab for lab in self.labels]


class TextRequest(ClassifyOptions):
    text: Text


class Document(Strict):
    id: Name = Field(description="Your name for the document, unique within the request; its result carries it.")
    text: Text


class BatchDocument(Document):
    """One line of a bulk file (service.batch): the API's document, its id optional."""

    id: Name | None = None  # type: ignore[assignment]  # optional here only


class DocumentsRequest(ClassifyOptions):
    documents: list[Document] = Field(min_length=1)


class EvidenceOut(BaseModel):
    text: str
    start: int = Field(description="Offset in Unicode code points (not UTF-16 units): text == article[start:end].")
    end: int
    score: float = Field(ge=0.0, le=1.0, description="The sentence's support for the topic read alone, capped at "
                                                     "the topic's score.")


class TopicOut(BaseModel):
    label: str
    score: float = Field(ge=0.0, le=1.0)
    code: str | None = Field(None, description="Taxonomy code (IPTC Media Topic), when the label has one.")
    evidence: list[EvidenceOut]


class ModelOut(BaseModel):
    name: str
    kind: str = Field(description="embedding (zero-shot), nli (zero-shot) or classifier (fine-tuned).",
                      json_schema_extra={"enum": ["embedding", "nli", "classifier"]})
    version: str = Field(description="First 12 hex digits of the weights' SHA-256; with the topic matcher "
                         "merged in, then \"+\" and the first 8 of the adapter's.")


LANGUAGE_DESCRIPTION = "The text's language (ISO 639-1), or \"und\" when it cannot be told."
WARNINGS_DESCRIPTION = ("What may make these topics less reliable: a language the model was not trained on "
                        "({\"code\": \"language-unsupported\", \"message\": ...}), a text that does not read "
                        "like news (\"not-news\": multi-label calls then return no topic), a text with no word "
                        "the model reads, such as only digits or Arabic vowel marks (\"nothing-to-read\": no "
                        "topic either), a text unlike every training article of a fine-tuned model "
                        "(\"outside-model-domain\"), "
                        "a topic given under its threshold (\"below-threshold\": no topic reached it, and the "
                        "taxonomy gives a text that reads as news its best one), or a feed of several items read "
                        "as one text (\"feed-items\").")
SERVED_DESCRIPTION = ("The model that tagged this text: the default model, or the multilingual model for a "
                      "language or labels the default does not read (routing by language), or the model the "
                      "request named.")


class WarningOut(BaseModel):
    code: str = Field(json_schema_extra={"enum": list(WARNING_CODES)})
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
    yields_to: list[str] = Field(description="Topics of the taxonomy that, given with a higher score, leave this "
                                             "one out of a multi-label answer (docs/taxonomies.md).")
    ruled_out_by: list[str] = Field(description="Phrases that, named in a text with none of this topic's keywords, "
                                                "leave it out of the answer; a single-label call returns the best "
                                                "topic no phrase rules out (docs/taxonomies.md).")


class TaxonomyDetail(BaseModel):
    name: str
    title: str
    description: str
    threshold: float
    sentence_topics: bool = Field(description="A topic may also come from a sentence the article leans on "
                                              "(docs/scoring.md, step 5).")
    at_least_one_topic: bool = Field(description="A text sure to be news gets its best topic when none passes "
                                                 "its threshold, with a below-threshold warning (step 8).")
    topics: list[TaxonomyTopic]


class ModelInfo(ModelOut):
    default: bool
    ready: bool = Field(description="Always true: a model is listed once it can tag.")
    runtime: str = Field(description="What runs its encoder here: torch or onnx (NEWSTAG_RUNTIME, as resolved).",
                         json_schema_extra={"enum": ["torch", "onnx"]})
    precision: str = Field(description="The precision it runs in: fp32, bf16 or int8 (NEWSTAG_PRECISION, as "
                                       "resolved: auto becomes one of them); an NLI model runs as its "
                                       "checkpoint was saved (fp32, bf16 or fp16).",
                           json_schema_extra={"enum": ["fp32", "bf16", "int8", "fp16"]})
    labels: list[str] | None = Field(description="Fixed labels of a fine-tuned model; null for zero-shot ones.")
    metrics: dict[str, float] | None = Field(description="A fine-tuned model's validation metrics.")


class ModelList(BaseModel):
    models: list[ModelInfo]
    errors: dict[str, str] = Field(description="Model directories that were not loaded, and why; "
                                               "'(default model)': why the default model failed to load.")
    loading: bool = Field(description="True while this worker still loads its default model (models is then "
                                      "empty; /readyz turns 200 when it is done); false once it failed to "
                                      "load, with the reason in errors.")


class FieldError(BaseModel):
    path: str = Field(description="JSON pointer to the offending field of the body, e.g. /documents/0/text; "
                                  "for a query parameter, its name, e.g. since.")
    message: str


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
