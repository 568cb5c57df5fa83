"""Request and response shapes of /v1/feedback, validated like the rest of /v1 (strict, no extra fields)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ..config import Settings
from ..engine import TaxonomyRegistry
from ..engine.validation import is_unicode, label_key, text_problem
from ..feedback import Correction
from .parsing import field_errors
from .problems import ValidationFailed
from .schemas import Name, Strict, Text


class FeedbackRequest(Strict):
    text: Text = Field(description="The article, as it was tagged.")
    labels: list[Name] = Field(min_length=1, description="The corrected set of topics: what the text is about.")
    taxonomy: Name | None = Field(description="The taxonomy the labels come from; null when they were typed.")
    model: Name | None = Field(None, description=(
        "The model whose answer was corrected: a loaded model (GET /v1/models); without a taxonomy, "
        "a fine-tuned model's labels and predicted labels must be its own."))
    predicted: list[Name] | None = Field(None, description="The topics the model returned, before correction.")


class FeedbackCreated(BaseModel):
    id: int = Field(description="The stored correction's id.")


class TrainingRow(BaseModel):
    """One line of the export: the JSONL schema `python -m training.finetune --train` reads."""

    text: str
    labels: list[str] = Field(min_length=1)
    taxonomy: str | None = Field(description="The taxonomy the labels belong to; null for typed labels.")


class ModelChanges(BaseModel):
    reviewed: int
    changed: int


class FeedbackStats(BaseModel):
    corrections: int = Field(description="Texts with a current correction (the rows the export gives).")
    submissions: int = Field(description="Corrections ever sent, history included.")
    labels: dict[str, int] = Field(description="Current corrections per label.")
    reviewed: int = Field(description="Current corrections that came with the model's prediction.")
    changed: int = Field(description="Of those, how many changed the model's set of labels.")
    changed_rate: float | None = Field(description="changed / reviewed; null when none was reviewed.")
    added: dict[str, int] = Field(description="Labels editors added to the model's prediction.")
    removed: dict[str, int] = Field(description="Labels editors removed from the model's prediction.")
    models: dict[str, ModelChanges] = Field(
        description="reviewed and changed, per model; \"(none)\" for corrections that named none.")


# PostgreSQL stores no NUL character in text (SQLite does): refused for every backend alike.
NUL_MESSAGE = "must not contain the NUL character (U+0000), which databases cannot store"


def _storable(value: str) -> bool:
    return is_unicode(value) and "\x00" not in value


def _clean(labels: list[str], path: str, errors: list[dict[str, str]]) -> tuple[str, ...]:
    for i, label in enumerate(labels):
        if not label.strip():
            errors.append({"path": f"{path}/{i}", "message": "a label must not be only whitespace"})
        elif not is_unicode(label):
            errors.append({"path": f"{path}/{i}", "message": "a label must be valid Unicode (no lone surrogates)"})
        elif "\x00" in label:
            errors.append({"path": f"{path}/{i}", "message": f"a label {NUL_MESSAGE}"})
    kept: dict[str, str] = {}  # label_key -> the label as first written
    for i, label in enumerate(labels):
        name = label.strip()
        if not name or not _storable(label):
            continue
        key = label_key(name)
        if key in kept:  # as /v1/classify: the same label again, in any case or Unicode form
            again = f"{name!r} again" if kept[key] == name else f"{name!r} is {kept[key]!r}"
            errors.append({"path": f"{path}/{i}", "message": f"label names must be unique: {again}"})
        kept.setdefault(key, name)
    return tuple(kept.values())


def parse_feedback(data: Any, settings: Settings, taxonomies: TaxonomyRegistry,
                   models: Mapping[str, Sequence[str] | None] | None = None) -> Correction:
    """Validate a POST /v1/feedback body, or raise ValidationFailed naming every bad field.

    ``models`` maps the loaded models' names to their own labels (None for a zero-shot
    model); when given, ``model`` must name one of them, and without a taxonomy the labels
    of a fine-tuned model must be its own. None (the models are still loading): not checked.
    """
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object", errors=[{"path": "/", "message": "not an object"}])
    try:
        body = FeedbackRequest.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("the feedback has invalid fields",
                               errors=_with_limits(field_errors(exc), data, settings)) from None
    errors: list[dict[str, str]] = []
    complaint = text_problem(body.text, settings.max_text_chars)  # the limits of /v1/classify
    if complaint is not None:
        errors.append({"path": "/text", "message": f"text {complaint}"})
    elif "\x00" in body.text:
        errors.append({"path": "/text", "message": f"text {NUL_MESSAGE}"})
    for field in ("taxonomy", "model"):
        value = getattr(body, field)
        if value is not None and not is_unicode(value):
            errors.append({"path": f"/{field}", "message": "must be valid Unicode (no lone surrogates)"})
        elif value is not None and "\x00" in value:
            errors.append({"path": f"/{field}", "message": NUL_MESSAGE})
    for name, given in (("labels", body.labels), ("predicted", body.predicted or ())):  # as /v1/classify's labels
        if len(given) > settings.max_labels:  # first: a list over the limit is not read item by item
            errors.append({"path": f"/{name}", "message": f"at most {settings.max_labels} labels"})
    within = len(body.labels) <= settings.max_labels
    labels = _clean(body.labels, "/labels", errors) if within else ()
    predicted = (_clean(body.predicted, "/predicted", errors)
                 if body.predicted is not None and len(body.predicted) <= settings.max_labels else None)
    if body.taxonomy is not None and _storable(body.taxonomy):
        # Labels named for a taxonomy must be its topics: a typo would become a new class in training.
        if body.taxonomy not in taxonomies.names():
            errors.append({"path": "/taxonomy", "message": f"no taxonomy named {body.taxonomy!r}"})
        else:
            known = {label.name for label in taxonomies.get(body.taxonomy).labels}
            for field, given in (("labels", body.labels), ("predicted", body.predicted or [])):
                errors += [{"path": f"/{field}/{i}", "message": f"{label.strip()!r} is not a topic of {body.taxonomy}"}
                           for i, label in enumerate(given) if label.strip() and label.strip() not in known]
    if models is not None and body.model is not None and _storable(body.model):
        _check_model(body.model, models, body, errors)
    if errors:
        raise ValidationFailed("the feedback has invalid fields", errors=errors)
    return Correction(text=body.text, labels=labels, taxonomy=body.taxonomy, model=body.model, predicted=predicted)


def _with_limits(shape: list[dict[str, str]], data: dict[str, Any], settings: Settings) -> list[dict[str, str]]:
    """The schema's errors and the limits on text and labels that it does not check, so one answer
    names every bad field (the limits are checked on values of the right type only)."""
    named = {error["path"] for error in shape}
    text, labels = data.get("text"), data.get("labels")
    complaint = text_problem(text, settings.max_text_chars) if isinstance(text, str) else None
    if complaint is not None and "/text" not in named:
        shape = [*shape, {"path": "/text", "message": f"text {complaint}"}]
    if isinstance(labels, list) and len(labels) > settings.max_labels and "/labels" not in named:
        shape = [*shape, {"path": "/labels", "message": f"at most {settings.max_labels} labels"}]
    return shape


def _check_model(name: str, models: Mapping[str, Sequence[str] | None], body: FeedbackRequest,
                 errors: list[dict[str, str]]) -> None:
    """A correction names a loaded model, and a fine-tuned model's labels are its own."""
    if name not in models:
        errors.append({"path": "/model", "message": f"no model named {name!r}; loaded: {', '.join(sorted(models))}"})
        return
    own = models[name]
    if own is None or body.taxonomy is not None:
        return
    known = set(own)
    for field, given in (("labels", body.labels), ("predicted", body.predicted or [])):
        errors += [{"path": f"/{field}/{i}", "message": f"{label.strip()!r} is not a label of model {name!r}"}
                   for i, label in enumerate(given) if label.strip() and label.strip() not in known]
