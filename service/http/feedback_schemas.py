"""Request and response shapes of /v1/feedback, validated like the rest of /v1 (strict, no extra fields)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, Field, StringConstraints, ValidationError

from ..config import Settings
from ..engine import TaxonomyRegistry
from ..engine.validation import INVISIBLE, is_unicode, label_key, same_label, shows_nothing, text_problem
from ..feedback import Correction
from .parsing import field_errors
from .problems import ValidationFailed
from .schemas import Name, Strict, Text

# A model version as /v1/classify names it: 12 hex digits, with the topic matcher "+" and 8 more.
Version = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class FeedbackRequest(Strict):
    text: Text = Field(description="The article, as it was tagged.")
    # At least one: checked in parse_feedback, which says so in words (the OpenAPI document has minItems 1).
    labels: list[Name] = Field(description="The corrected set of topics: what the text is about (at least one); "
                               "names must differ in more than case or Unicode composition (NFC).")
    taxonomy: Name | None = Field(description="The taxonomy the labels come from; null when they were typed.")
    model: Name | None = Field(None, description=(
        "The model whose answer was corrected (GET /v1/models). A model not loaded now (removed, renamed) is "
        "stored with a warning. For a loaded fine-tuned model, labels must be its own and taxonomy null, "
        "unless model_version names another version than the loaded one."))
    model_version: Version | None = Field(None, description=(
        "The version /v1/classify named for that model (model.version): a correction of an answer given "
        "before the model was retrained in place is stored, with a warning, though its labels are not "
        "the loaded version's."))
    predicted: list[Name] | None = Field(None, description=(
        "The topics the model returned, before correction; labels the model no longer has are stored, "
        "with a warning."))


FEEDBACK_WARNINGS = ("What was stored without being checked: a model not loaded now (\"model-not-loaded\"), "
                     "a model_version other than the loaded one (\"model-version-changed\"), predicted labels "
                     "the loaded model does not have (\"predicted-not-model-labels\").")


FEEDBACK_WARNING_CODES = ("model-not-loaded", "model-version-changed", "predicted-not-model-labels")


class FeedbackWarningOut(BaseModel):
    code: str = Field(json_schema_extra={"enum": list(FEEDBACK_WARNING_CODES)})
    message: str


class FeedbackCreated(BaseModel):
    id: int = Field(description="The stored correction's id.")
    warnings: list[FeedbackWarningOut] = Field(description=FEEDBACK_WARNINGS)


class TrainingRow(BaseModel):
    """One line of the export: the JSONL schema `python -m training.finetune --train` reads."""

    text: str
    labels: list[str] = Field(min_length=1)
    taxonomy: str | None = Field(description="The taxonomy the labels belong to; null for typed labels.")
    model: str | None = Field(description="The model whose answer was corrected; null when the correction "
                                          "named none. Training ignores it.")
    model_version: str | None = Field(description="That model's version, when the correction gave it. "
                                                  "Training ignores it.")


# ?model= and ?since= of the export and the stats, as the OpenAPI document lists them.
SELECTION_PARAMETERS: list[dict[str, Any]] = [
    {"name": "model", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "only the corrections that named this model, loaded or not (one desk's; empty: those that "
                    "named none), each text's newest among them; a model no correction names and none loaded "
                    "is a 404"},
    {"name": "since", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "only the corrections made at or after this ISO 8601 date and time (2026-03-01, "
                    "2026-03-01T08:00:00+01:00; without an offset, UTC)"},
]


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
        elif shows_nothing(label):  # as /v1/classify: a class no one could see, once retrained
            errors.append({"path": f"{path}/{i}", "message": f"a label {INVISIBLE}"})
        elif not is_unicode(label):
            errors.append({"path": f"{path}/{i}", "message": "a label must be valid Unicode (no lone surrogates)"})
        elif "\x00" in label:
            errors.append({"path": f"{path}/{i}", "message": f"a label {NUL_MESSAGE}"})
    kept: dict[str, str] = {}  # label_key -> the label as first written
    for i, label in enumerate(labels):
        name = label.strip()
        if shows_nothing(name) or not _storable(label):
            continue
        key = label_key(name)
        if key in kept:  # as /v1/classify: the same label again, in any case or Unicode form
            again = same_label(name, kept[key])
            errors.append({"path": f"{path}/{i}", "message": f"label names must be unique: {again}"})
        kept.setdefault(key, name)
    return tuple(kept.values())


class LoadedModel(NamedTuple):
    """A model served now, as a correction is checked against it."""

    labels: tuple[str, ...] | None  # a fine-tuned model's own labels; None for a zero-shot model
    version: str  # as /v1/classify names it


class CheckedFeedback(NamedTuple):
    correction: Correction
    warnings: list[dict[str, str]]  # {"code", "message"}, as in /v1/classify's results


EMPTY_LABELS = ("a correction names at least one topic the text is about (an article without a topic "
                "trains nothing); a text that none fits needs no correction")


def parse_feedback(data: Any, settings: Settings, taxonomies: TaxonomyRegistry,
                   models: Mapping[str, LoadedModel] | None = None) -> CheckedFeedback:
    """Validate a POST /v1/feedback body, or raise ValidationFailed naming every bad field.

    ``models`` are the models loaded now, by name (None: still loading). Editors' work is
    not refused for what changed since they saw the answer: a model not loaded now, or
    another version of it, is stored with a warning. A loaded fine-tuned model's own
    labels are checked (a typo would become a class when it is retrained), and so is a
    taxonomy given with it, which /v1/classify refuses.
    """
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object", errors=[{"path": "/", "message": "not an object"}])
    try:
        body = FeedbackRequest.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("the feedback has invalid fields",
                               errors=_with_limits(field_errors(exc), data, settings)) from None
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    complaint = text_problem(body.text, settings.max_text_chars)  # the limits of /v1/classify
    if complaint is not None:
        errors.append({"path": "/text", "message": f"text {complaint}"})
    elif "\x00" in body.text:
        errors.append({"path": "/text", "message": f"text {NUL_MESSAGE}"})
    for field in ("taxonomy", "model", "model_version"):
        value = getattr(body, field)
        if value is not None and not is_unicode(value):
            errors.append({"path": f"/{field}", "message": "must be valid Unicode (no lone surrogates)"})
        elif value is not None and "\x00" in value:
            errors.append({"path": f"/{field}", "message": NUL_MESSAGE})
    if body.model_version is not None and body.model is None:
        errors.append({"path": "/model_version", "message": "the version of which model? give model too"})
    if not body.labels:
        errors.append({"path": "/labels", "message": EMPTY_LABELS})
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
            # Compared as requests compare names (case folded, Unicode composed), stored as the taxonomy
            # spells them: "politics" for `news`'s "politics" typed "Politics" was refused.
            spelled = {label_key(label.name): label.name for label in taxonomies.get(body.taxonomy).labels}
            for field, given in (("labels", body.labels), ("predicted", body.predicted or [])):
                unknown = [(i, label.strip()) for i, label in enumerate(given)
                           if label.strip() and label_key(label.strip()) not in spelled]
                errors += [{"path": f"/{field}/{i}", "message": f"{label!r} is not a topic of {body.taxonomy}"}
                           for i, label in unknown]
            labels = tuple(spelled.get(label_key(label), label) for label in labels)
            predicted = tuple(spelled.get(label_key(label), label) for label in predicted) if predicted else predicted
    if body.model is not None and _storable(body.model):
        _check_model(body, models, errors, warnings)
    if errors:
        raise ValidationFailed("the feedback has invalid fields", errors=errors)
    correction = Correction(text=body.text, labels=labels, taxonomy=body.taxonomy, model=body.model,
                            predicted=predicted, model_version=body.model_version)
    return CheckedFeedback(correction, warnings)


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
    if labels == [] and "/labels" not in named:
        shape = [*shape, {"path": "/labels", "message": EMPTY_LABELS}]
    return shape


def _check_model(body: FeedbackRequest, models: Mapping[str, LoadedModel] | None,
                 errors: list[dict[str, str]], warnings: list[dict[str, str]]) -> None:
    """Check the labels against the model the correction names, as far as it is the one loaded now."""
    name = body.model
    assert name is not None
    if models is None:
        warnings.append(_warning("model-not-loaded", f"no model is loaded now (still loading, or failed to load), "
                                                     f"so model {name!r} and the labels were not checked against "
                                                     "it; stored as sent"))
        return
    loaded = models.get(name)
    if loaded is None:  # removed or renamed since the answer (or a typo: the loaded ones are named)
        warnings.append(_warning("model-not-loaded", f"no model named {name!r} is loaded now (loaded: "
                                                     f"{', '.join(sorted(models))}), so the labels were not "
                                                     "checked against it; stored as sent"))
        return
    if body.model_version is not None and body.model_version != loaded.version:
        warnings.append(_warning("model-version-changed", f"model {name!r} is version {loaded.version} now, not "
                                                          f"{body.model_version}, so the labels were not checked "
                                                          "against it; stored as sent"))
        return
    if loaded.labels is None:
        return  # zero-shot: any labels
    if body.taxonomy is not None:  # as /v1/classify refuses it; here the field is required, so: null
        errors.append({"path": "/taxonomy", "message": f"model {name!r} has its own labels; send \"taxonomy\": null"})
        return
    own = set(loaded.labels)
    hint = ("GET /v1/models lists them; a correction of an earlier version's answer names that version in "
            "model_version")
    errors += [{"path": f"/labels/{i}", "message": f"{label.strip()!r} is not a label of model {name!r} ({hint})"}
               for i, label in enumerate(body.labels) if label.strip() and label.strip() not in own]
    # What the model returned then cannot be a typo: retrained since, it may have lost a label.
    stray = [label.strip() for label in body.predicted or () if label.strip() and label.strip() not in own]
    if stray:
        warnings.append(_warning("predicted-not-model-labels",
                                 f"model {name!r} has no label {', '.join(map(repr, stray))} now (retrained since it "
                                 "answered?); the prediction was stored as sent"))


def _warning(code: str, message: str) -> dict[str, str]:
    assert code in FEEDBACK_WARNING_CODES, code  # the schema lists them
    return {"code": code, "message": message}
