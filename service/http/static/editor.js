// newstag editor: tag an article through /v1/classify, show topics with their evidence
// highlighted, let the editor correct the set, and send it to /v1/feedback.
// Plain script, no build step, nothing loaded from elsewhere; editor-api.js (loaded first)
// talks to the API and decodes files, editor-article.js shows the article with its evidence,
// editor-models.js offers the loaded models.
"use strict";

const state = {
  text: "",          // the text as tagged (evidence offsets point into it)
  taxonomy: null,    // the taxonomy used, or null for typed labels
  model: null,       // the answering model's name
  version: null,     // and its version, sent with a correction (the model may be retrained meanwhile)
  models: [],        // GET /v1/models' listing: [{name, kind, version, default, labels, ...}]
  predicted: [],     // topic labels as the model returned them
  topics: [],        // [{label, score, code, evidence, added, removed}]
  options: [],       // labels the editor may add: the taxonomy's topics, or the typed labels
  active: null,      // the label whose evidence is emphasised
  shown: 0,          // counts the results shown: a late reply must not write into newer ones
  choicesLoaded: false,  // the taxonomies and models are listed
  loading: null,     // their requests in flight, which tagging waits for
  modelsWait: 0,     // counts the models' listings: a wait for the service's model stops at a newer one
  tagging: false,    // a tag request runs: no second one, and the topics on screen are left alone
  sending: false,    // a correction is on its way: not sent twice
};

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

// --- taxonomies and models ---------------------------------------------------------

function loadChoices() {
  state.loading = state.loading || fetchChoices().finally(() => { state.loading = null; });
  return state.loading;
}

async function fetchChoices() {
  const select = $("taxonomy");
  // The models' listing is not needed to tag with the default: if it fails, the default
  // alone is offered (refreshModels tries again after each tag).
  const listing = readModels();
  try {
    const {taxonomies} = await (await api("GET", "/v1/taxonomies")).json();
    const typed = select.querySelector('option[value=""]');
    const previous = select.value;
    select.replaceChildren(...taxonomies.map((t) => new Option(taxonomyChoice(t), t.name)), typed);
    const fallback = taxonomies.find((t) => t.default);
    // "labels I type…" ("") chosen before (the listing is fetched again when the key changes) stays chosen.
    const keep = taxonomies.some((t) => t.name === previous) || (state.choicesLoaded && previous === "");
    select.value = keep ? previous : (fallback ? fallback.name : "");
    state.choicesLoaded = true;
    $("status").textContent = "";
    showError("");
    showModels(await listing);  // or says that the service is still loading its model
  } catch (err) {
    showError(`Could not list the taxonomies. ${err.message}`);
  }
  toggleLabels();
}

// "Our desk's topics (desk, 20 topics)"; a taxonomy file may leave out its title: "desk (20 topics)".
function taxonomyChoice(t) {
  const topics = `${t.topics} topic${t.topics === 1 ? "" : "s"}`;
  return t.title ? `${t.title} (${t.name}, ${topics})` : `${t.name} (${topics})`;
}

function toggleLabels() {
  $("labels-field").hidden = ownLabels() !== null || $("taxonomy").value !== "";
}

// The topics the editor may add: the answering model's own labels (a fine-tuned model), the
// taxonomy's topics, or the labels typed.
async function topicOptions(result, typed) {
  const own = state.models.find((m) => m.name === result.model.name)?.labels;
  if (own) return own.map((label) => ({label, code: null}));
  if (result.taxonomy === null) return typed;
  const detail = await (await api("GET", `/v1/taxonomies/${encodeURIComponent(result.taxonomy)}`)).json();
  return detail.topics.map((t) => ({label: t.name, code: t.code}));
}

// --- tagging -----------------------------------------------------------------------

// What makes two labels one for the API (service/engine/validation.py, label_key): Unicode
// NFC, then full case folding (Python's str.casefold). JavaScript has no casefold; upper then
// lower case folds as it does ("Straße", "STRASSE" and "STRAẞE" are one; a final sigma is a
// sigma), except for the dotless ı, which casefold keeps apart from i: it is left as it is. The
// capital İ folds to i and a combining dot, which the API drops ("İqtisadiyyat" is "iqtisadiyyat").
function labelKey(label) {
  return label.normalize("NFC").toLowerCase().split("\u0131")
    .map((part) => part.toUpperCase().toLowerCase()).join("\u0131").replaceAll("i\u0307", "i")
    .replace(/\p{Cf}/gu, "");  // invisible format characters, as the API's label_key leaves them out
}

// Split on commas, the full-width, ideographic and Arabic ones too (as `newstag tag --labels`);
// a label typed twice (in another case or Unicode form: the API takes them as one and refuses
// the pair) once, as first typed.
function typedLabels() {
  const seen = new Set();
  return $("labels").value.split(/[,\uff0c\u3001\u060c]/).map((s) => s.trim()).filter((label) => {
    const key = labelKey(label);
    if (!label || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// Busy from the first keypress: Enter pressed three times while the taxonomies load (API keys
// on, a slow network) sent three requests. The buttons are marked aria-disabled rather than
// disabled, so the one that was pressed keeps the keyboard focus.
async function tag(event) {
  event.preventDefault();
  if (state.tagging) return;
  setTagging(true);
  try {
    await tagArticle();
  } finally {
    setTagging(false);
  }
}

const WAIT = "Wait: the article is being tagged.";

function setTagging(busy) {
  state.tagging = busy;
  $("tag-button").setAttribute("aria-disabled", String(busy));
  // Busy: the topics and the article about to be replaced, not the whole results, whose status
  // line (a live region) says "Wait" meanwhile: a screen reader may hold back a busy region's news.
  for (const id of ["topics", "removed", "article-view"]) $(id).setAttribute("aria-busy", String(busy));
  lockPanel();
  if (!busy && $("feedback-status").textContent === WAIT) $("feedback-status").textContent = "";  // (on an error)
}

// While a tag request runs, the topics on screen are about to be replaced: Remove, Restore,
// Add and Send do nothing (and say so); while a correction is on its way, Send does nothing.
function lockPanel() {
  for (const control of $("results").querySelectorAll(".remove, .restore, #add-topic, #add-button")) {
    control.setAttribute("aria-disabled", String(state.tagging));
  }
  $("send-button").setAttribute("aria-disabled", String(state.tagging || state.sending));
}

function panelLocked() {
  if (state.tagging) $("feedback-status").textContent = WAIT;
  return state.tagging;
}

async function tagArticle() {
  showError("");
  // NUL is invisible in the text box, and the correction store refuses it: removed before tagging,
  // so the text tagged is the text an editor corrects.
  const hadNul = $("article").value.includes("\u0000");
  if (hadNul) $("article").value = $("article").value.replaceAll("\u0000", "");
  const text = $("article").value;
  if (!text.trim()) {
    showError("Paste an article or drop a .txt file first.");
    $("article").focus();
    return;
  }
  if (!state.choicesLoaded) {
    if (keysRequired() && !$("api-key").value.trim()) {
      showError("Enter the API key first.");
      $("api-key").focus();
      return;
    }
    await loadChoices();  // also when Enter in the key field started it a moment ago
    if (!state.choicesLoaded) return;  // its error is shown
  }
  // No model named: the default, which routes by language. A fine-tuned model answers with
  // its own labels, and /v1/classify refuses a taxonomy with it: neither is sent.
  const model = $("model").value || null;
  const own = ownLabels() !== null;
  const taxonomy = own ? null : $("taxonomy").value || null;
  const labels = own ? [] : typedLabels();
  if (!own && taxonomy === null && !labels.length) {
    showError("Type at least one label, or pick a taxonomy.");
    $("labels").focus();
    return;
  }
  const request = {text, ...(model === null ? {} : {model}),
                   ...(own ? {} : taxonomy === null ? {labels} : {taxonomy})};
  $("status").textContent = "Tagging…";
  try {
    const result = await (await api("POST", "/v1/classify", request)).json();
    await refreshModels();  // models loaded since; a fine-tuned model's labels as they are now
    const options = await topicOptions(result, labels.map((label) => ({label, code: null})));
    show(text, result, options);
    const count = result.topics.length;
    $("status").textContent = `${count} topic${count === 1 ? "" : "s"} found.` +
      (hadNul ? " NUL characters were removed from the article first." : "");
    $("results").focus();  // its description is the warnings: a screen reader says them too
  } catch (err) {
    $("status").textContent = "";
    showError(err.message);
    $("error").focus();
    markStale();  // the topics on screen, if any, are still those of the text as tagged before
    if (model !== null) await dropUnloadedModel(model);  // removed or renamed since it was listed?
  }
}

function show(text, result, options) {
  Object.assign(state, {
    text, taxonomy: result.taxonomy, model: result.model.name, version: result.model.version, options, active: null,
    shown: state.shown + 1,
    predicted: result.topics.map((t) => t.label),
    topics: result.topics.map((t) => ({...t, added: false, removed: false})),
  });
  // The name isolated: a right-to-left one must not carry "(kind, ...)" along with it.
  const {name, kind, version} = result.model;
  $("model-line").replaceChildren("Model ", el("bdi", {}, name),
                                  ` (${kind}, version ${version})` + (result.taxonomy ? `, taxonomy ${result.taxonomy}` : ""));
  // Warnings say why topics may be missing or unreliable (not news, a language the model does not read).
  $("warnings").replaceChildren(...(result.warnings || []).map((w) => el("li", {}, w.message)));
  $("warnings").hidden = !$("warnings").children.length;
  // The article in its language, for screen readers' voices and for hyphenation; "und"
  // (too little to tell) is unknown, which HTML spells lang="": not the page's English.
  $("article-view").lang = result.language && result.language !== "und" ? result.language : "";
  $("feedback-status").textContent = "";
  $("feedback-warnings").replaceChildren();
  $("results").hidden = $("skip").hidden = false;
  renderTopics();
  markStale();
}

// Topics on screen belong to the text as tagged: when the box holds another text, say so
// (a correction sent then is still for the tagged text).
function markStale() {
  const stale = !$("results").hidden && $("article").value !== state.text;
  $("stale").hidden = !stale;
  $("results").classList.toggle("stale", stale);
}

// --- the topic list and corrections ------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function topicItem(topic) {
  const bar = el("span", {className: "bar"}, el("span"));
  bar.setAttribute("aria-hidden", "true");
  const score = topic.added ? "added by you" : topic.score.toFixed(2);
  bar.firstChild.style.width = `${Math.round((topic.added ? 0 : topic.score) * 100)}%`;
  const go = el("button", {type: "button", className: "topic-name",
                           title: topic.added ? "Added by you: no evidence" : "Show the evidence in the article"},
    el("span", {className: "label", dir: "auto"}, topic.label),
    el("span", {className: "code"}, topic.code || ""),
    bar,
    el("span", {className: "score"}, score));
  go.addEventListener("click", () => goToEvidence(topic));
  const remove = el("button", {type: "button", className: "remove", textContent: "Remove"});
  remove.setAttribute("aria-label", `Remove ${topic.label}`);
  remove.addEventListener("click", () => setRemoved(topic, true));
  const item = el("li", {className: topic.added ? "topic added" : "topic"}, go, remove);
  item.dataset.label = topic.label;
  return item;
}

function removedItem(topic) {
  const restore = el("button", {type: "button", className: "restore", textContent: "Restore"});
  restore.setAttribute("aria-label", `Restore ${topic.label}`);
  restore.addEventListener("click", () => setRemoved(topic, false));
  const item = el("li", {}, el("span", {className: "label", dir: "auto"}, topic.label), restore);
  item.dataset.label = topic.label;
  return item;
}

function renderTopics() {
  const kept = state.topics.filter((t) => !t.removed);
  const removed = state.topics.filter((t) => t.removed);
  $("topics").replaceChildren(...kept.map(topicItem));
  if (!kept.length) $("topics").append(el("li", {className: "empty"}, "No topics: add at least one."));
  $("removed").replaceChildren(...removed.map(removedItem));
  $("removed-box").hidden = !removed.length;
  const present = new Set(state.topics.map((t) => t.label));
  const addable = state.options.filter((o) => !present.has(o.label));
  $("add-topic").replaceChildren(...addable.map((o) => new Option(o.code ? `${o.label} (${o.code})` : o.label,
                                                                  o.label)));
  $("add-topic").disabled = $("add-button").disabled = !addable.length;
  $("send-button").disabled = !kept.length;
  lockPanel();
  renderArticle();  // a removed topic's evidence is no longer highlighted
}

// The keyboard focus after a change: the first of these controls that is shown and enabled
// (re-rendering the list removed the button that had it, and a disabled control cannot
// hold it), else the results themselves, never the page's <body>.
function focusFirst(...controls) {
  const target = controls.find((c) => c && !c.disabled && !c.closest("[hidden]")) || $("results");
  target.focus();
}

const itemOf = (list, label) => $(list).querySelector(`li[data-label="${CSS.escape(label)}"]`);

function setRemoved(topic, removed) {
  if (panelLocked()) return;
  topic.removed = removed;
  if (topic.added && removed) state.topics = state.topics.filter((t) => t !== topic);
  renderTopics();
  $("feedback-status").replaceChildren(el("bdi", {}, topic.label), ` ${removed ? "removed" : "restored"}.`);
  // Removed: its Restore button (a topic added by you has none: it goes back to the Add list).
  if (removed) focusFirst(itemOf("removed", topic.label)?.querySelector(".restore"), $("add-topic"), $("send-button"));
  else focusFirst(itemOf("topics", topic.label)?.querySelector(".topic-name"));
}

function addTopic() {
  if (panelLocked()) return;
  const label = $("add-topic").value;
  const option = state.options.find((o) => o.label === label);
  if (!option) return;
  state.topics.push({label, code: option.code, score: 0, evidence: [], added: true, removed: false});
  renderTopics();
  $("feedback-status").replaceChildren(el("bdi", {}, label), " added.");
  // The Add list while it has more to add, else the topic just added.
  focusFirst($("add-topic"), itemOf("topics", label)?.querySelector(".topic-name"));
}

async function sendFeedback() {
  if (panelLocked() || state.sending) return;
  const labels = state.topics.filter((t) => !t.removed).map((t) => t.label);
  const button = $("send-button");
  const shown = state.shown;
  state.sending = true;
  lockPanel();
  $("feedback-status").textContent = "Sending…";
  $("feedback-warnings").replaceChildren();
  showError("");
  try {
    // model_version: the version that answered, so that a correction of a model retrained
    // since is stored (with a warning) rather than refused as labels the model lacks.
    const {id, warnings} = await (await api("POST", "/v1/feedback", {
      text: state.text, labels, taxonomy: state.taxonomy, model: state.model, model_version: state.version,
      predicted: state.predicted,
    })).json();
    showSaved(id, labels, (warnings || []).map((w) => w.message), shown === state.shown);
  } catch (err) {
    if (shown === state.shown) $("feedback-status").textContent = "Not saved.";
    showError(shown === state.shown ? err.message : `The correction of the article tagged before was not saved. ${err.message}`);
    $("error").focus();
  } finally {
    state.sending = false;
    lockPanel();
    const focused = document.activeElement === button;
    button.disabled = !state.topics.some((t) => !t.removed);  // what is on screen now
    if (focused && button.disabled) focusFirst();
  }
}

// Saved: said in the panel's status line, and what the service could not check listed under
// it (a live region: heard, without taking the focus from Send). Another article may have been
// tagged meanwhile: its panel must not claim this correction, so the page's status line says it.
function showSaved(id, labels, warnings, current) {
  // Each label in its own <bdi>: a right-to-left label beside others would reorder the list.
  const saved = () => [`Correction saved (#${id}): `,
                       ...labels.flatMap((label, i) => [...(i ? [", "] : []), el("bdi", {}, label)])];
  if (!current) {
    $("status").replaceChildren(...saved(), " (the article tagged before).",
                                warnings.map((w) => ` Warning: ${sentence(w)}`).join(""));
    return;
  }
  const count = warnings.length === 1 ? "a warning" : `${warnings.length} warnings`;
  $("feedback-status").replaceChildren(...saved(), ".", warnings.length ? ` Stored with ${count}:` : "");
  $("feedback-warnings").replaceChildren(...warnings.map((w) => el("li", {}, w)));
}

async function downloadExport() {
  try {
    const blob = await (await api("GET", "/v1/feedback/export?format=jsonl")).blob();
    const link = el("a", {href: URL.createObjectURL(blob), download: "feedback.jsonl"});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (err) {
    showError(err.message);
    $("error").focus();
  }
}

// --- the article's input: paste, pick or drop a .txt file --------------------------

async function readFile(file) {
  if (!file) return;
  if (!/\.txt$/i.test(file.name) && file.type !== "text/plain") {
    showError(`${file.name} is not a .txt file.`);
    return;
  }
  const {text, note} = decodeText(new Uint8Array(await file.arrayBuffer()));
  $("article").value = text;
  showError("");
  $("status").replaceChildren("Read ", el("bdi", {}, file.name), `.${note || ""}`);
  markStale();
}

function wireDrop() {
  const zone = $("drop-zone");
  // Only files are taken over: text dragged from another page drops into the box as usual.
  const carriesFiles = (e) => [...e.dataTransfer.types].includes("Files");
  zone.addEventListener("dragover", (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    zone.classList.remove("dragging");
    if (!carriesFiles(e)) return;
    e.preventDefault();
    readFile(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (e) => {
    readFile(e.target.files[0]);
    e.target.value = "";  // choosing the same file again must read it again
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("tag-form").addEventListener("submit", tag);
  $("model").addEventListener("change", chooseModel);
  $("taxonomy").addEventListener("change", toggleLabels);
  $("api-key").addEventListener("change", loadChoices);
  $("add-button").addEventListener("click", addTopic);
  $("send-button").addEventListener("click", sendFeedback);
  $("export-button").addEventListener("click", downloadExport);
  $("article").addEventListener("input", markStale);
  wireDrop();
  wireTooltips();
  toggleLabels();
  if (keysRequired() && !$("api-key").value) {
    $("status").textContent = "This service needs an API key: enter it to load the taxonomies and models.";
  } else {
    loadChoices();
  }
});
