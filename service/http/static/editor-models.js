// newstag editor: the model choice. GET /v1/models lists the loaded models; the page tags
// with the default (no model named, so /v1/classify routes texts by language) or the one
// chosen. A fine-tuned model has labels of its own: /v1/classify refuses a taxonomy with
// it, so the taxonomy and typed labels fields are hidden while it is chosen. Uses editor.js's
// state and el().
"use strict";

const PLAIN_MODEL_HINT = $("model-hint").textContent;  // deferred: the page is parsed
const OWN_LABELS_SHOWN = 12;

// The model chosen, as last listed; null for the default.
function chosenModel() {
  const name = $("model").value;
  return name ? state.models.find((m) => m.name === name) || null : null;
}

// The chosen model's own labels (a fine-tuned one), or null: a taxonomy or typed labels apply.
const ownLabels = () => chosenModel()?.labels || null;

function modelTitle(model) {
  if (!model.labels) return `${model.name} (${model.kind})`;
  const count = model.labels.length;
  return `${model.name} (fine-tuned, ${count} label${count === 1 ? "" : "s"})`;
}

// The listing in the select: the default first (its option names no model), then the others
// by name. The choice is kept while the listing has it.
function renderModels(models) {
  const select = $("model");
  const previous = select.value;
  state.models = models;
  const fallback = models.find((m) => m.default);
  const router = models.find((m) => !m.default && !m.labels);  // the multilingual model, when installed
  const title = !fallback ? "the default model"
    : `the default: ${fallback.name}` + (router ? ` (other languages: ${router.name})` : "");
  const others = models.filter((m) => !m.default);
  select.replaceChildren(new Option(title, ""), ...others.map((m) => new Option(modelTitle(m), m.name)));
  select.value = others.some((m) => m.name === previous) ? previous : "";
  applyModel();
}

// Reread the listing (after a tag): models loaded since, a fine-tuned model's labels as they
// are now. The tag has its answer already; if the listing fails, the one read before stays.
async function refreshModels() {
  try {
    renderModels((await (await api("GET", "/v1/models")).json()).models);
  } catch (_) { /* the listing as it was */ }
}

// A tag with a model named failed. If the model is not loaded any more (removed or renamed on
// the service since the listing was read: a 404), the page stops offering it: the listing is
// read again (a renamed model appears under its new name), the default is chosen (or what the
// editor chose meanwhile), and the status line says why. A failure of any other kind, or a
// listing that cannot be read, leaves the choice as it was.
async function dropUnloadedModel(name) {
  await refreshModels();
  if (state.models.some((m) => m.name === name)) return;
  const now = chosenModel();
  $("status").replaceChildren(el("bdi", {}, name), " is not loaded any more (removed or renamed on the service): ",
                              ...(now ? [el("bdi", {}, now.name), " is chosen."] : ["the default model is chosen."]),
                              " Tag again to use it.");
}

// Show the fields that apply to the chosen model, and name a fine-tuned one's labels in its
// hint (each isolated: a right-to-left label keeps its place in the list).
function applyModel() {
  const model = chosenModel();
  const own = ownLabels();
  $("taxonomy-field").hidden = own !== null;
  toggleLabels();
  const hint = $("model-hint");
  if (own === null) {
    hint.textContent = PLAIN_MODEL_HINT;
    return;
  }
  const parts = [el("bdi", {}, model.name), ` tags with its own ${own.length} label${own.length === 1 ? "" : "s"} `
                 + "(a taxonomy or typed labels do not apply): "];
  own.slice(0, OWN_LABELS_SHOWN).forEach((label, i) => parts.push(...(i ? [", "] : []), el("bdi", {}, label)));
  if (own.length > OWN_LABELS_SHOWN) parts.push(` and ${own.length - OWN_LABELS_SHOWN} more`);
  hint.replaceChildren(...parts, ".");
}

// The editor chose: say in the status line what changed on the form (fields hidden or shown).
function chooseModel() {
  applyModel();
  const model = chosenModel();
  $("status").replaceChildren(...(ownLabels() !== null
    ? [el("bdi", {}, model.name), " has labels of its own: no taxonomy or typed labels."]
    : [model ? el("bdi", {}, model.name) : "The default model", ": topics from a taxonomy or typed labels."]));
}
