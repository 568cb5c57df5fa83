// newstag editor: the model choice. GET /v1/models lists the loaded models (or says that the
// service still loads its model: the page says so and waits for it); the page tags
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
// by name. The choice is kept while the listing has it. While the service still loads its
// model, the default's option says so.
function renderModels(models, loading = false) {
  const select = $("model");
  const previous = select.value;
  state.models = models;
  const fallback = models.find((m) => m.default);
  const router = models.find((m) => !m.default && !m.labels);  // the multilingual model, when installed
  const title = !fallback ? `the default model${loading ? " (still loading…)" : ""}`
    : `the default: ${fallback.name}` + (router ? ` (other languages: ${router.name})` : "");
  const others = models.filter((m) => !m.default);
  select.replaceChildren(new Option(title, ""), ...others.map((m) => new Option(modelTitle(m), m.name)));
  select.value = others.some((m) => m.name === previous) ? previous : "";
  applyModel();
}

// GET /v1/models: {models}, {loading: true} while the service still loads its default model
// (it answers an empty list then), {failed} with the reason that model failed to load, or
// {error} with the reason the listing could not be read.
async function readModels() {
  try {
    const body = await (await api("GET", "/v1/models")).json();
    const failed = (body.errors || {})["(default model)"];
    if (failed) return {failed};  // the default model failed to load: it never will, as it stands
    return body.loading ? {loading: true} : {models: body.models};
  } catch (err) {
    return {error: err.message};
  }
}

// The service loads a large model for a minute or more (EmbeddingGemma), and an empty list read
// as "no model": the page says it is loading and asks again, less and less often (after 1, 2,
// 4 and 8 s, then every 15 s), for 5 minutes at most.
const MODELS_WAIT = {first: 1000, longest: 15000, giveUp: 5 * 60 * 1000};
const MODELS_LOADING = "The service is still loading its model (a large one takes a minute or more): "
  + "the list of models fills in once it is ready.";

// A listing read when the page loads (or the key changes): the models; or the service still
// loading, said in the status line while the page waits for it; or why the models could not be
// listed (the default alone is offered: tagging with it needs no listing).
function showModels(listing) {
  const wait = ++state.modelsWait;  // an older wait stops
  renderModels(listing.models || [], Boolean(listing.loading));
  if (listing.loading) {
    $("status").textContent = MODELS_LOADING;
    waitForModels(wait);
  } else if (listing.failed) {
    $("status").textContent = modelFailed(listing.failed);
  } else if (listing.error) {
    $("status").textContent = `Could not list the models: ${listing.error} The default model is offered.`;
  }
}

const modelFailed = (reason) => `The service's model failed to load, so tagging cannot work until it is `
  + `fixed (the service's log says more): ${reason}`;

// Ask again until the model is loaded, the listing fails or 5 minutes have passed, and say which.
// It stops when the models are listed otherwise (a tag's refreshModels, the key changed); while
// a tag runs, the status line is the tag's.
async function waitForModels(wait) {
  const started = Date.now();
  const say = (...parts) => { if (!state.tagging) $("status").replaceChildren(...parts); };
  for (let delay = MODELS_WAIT.first; Date.now() - started + delay <= MODELS_WAIT.giveUp;
       delay = Math.min(2 * delay, MODELS_WAIT.longest)) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (wait !== state.modelsWait) return;
    const listing = await readModels();
    if (wait !== state.modelsWait) return;
    if (listing.loading) continue;
    state.modelsWait += 1;
    if (listing.failed) {
      renderModels(state.models);
      say(modelFailed(listing.failed));
      return;
    }
    if (listing.error) {
      renderModels(state.models);  // not "still loading" any more: unknown
      say(`Could not list the models: ${listing.error} The default model is offered.`);
      return;
    }
    renderModels(listing.models);
    const fallback = listing.models.find((m) => m.default);
    say("The service has loaded its model", ...(fallback ? [" (", el("bdi", {}, fallback.name), ")"] : []),
        ": the list of models is ready.");
    return;
  }
  if (wait !== state.modelsWait) return;
  say("The service is still loading its model after 5 minutes: the page stopped asking. /readyz or the "
      + "service's log says why; reload the page to ask again.");
}

// Reread the listing (after a tag): models loaded since, a fine-tuned model's labels as they
// are now. The tag has its answer already; if the listing fails, the one read before stays, and
// so does it while the worker that answers is still loading (another worker tagged).
async function refreshModels() {
  const listing = await readModels();
  if (!listing.models) return;
  state.modelsWait += 1;  // listed: a wait for the model is over
  renderModels(listing.models);
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
