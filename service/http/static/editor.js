// newstag editor: tag an article through /v1/classify, show topics with their evidence
// highlighted, let the editor correct the set, and send it to /v1/feedback.
// Plain script, no build step, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  text: "",          // the text as tagged (evidence offsets point into it)
  taxonomy: null,    // the taxonomy used, or null for typed labels
  model: null,       // the answering model's name
  predicted: [],     // topic labels as the model returned them
  topics: [],        // [{label, score, code, evidence, added, removed}]
  options: [],       // labels the editor may add: the taxonomy's topics, or the typed labels
  active: null,      // the label whose evidence is emphasised
};

// --- talking to the API ------------------------------------------------------------

class ApiError extends Error {}

function headers(json) {
  const h = {Accept: "application/json"};
  if (json) h["Content-Type"] = "application/json";
  const key = $("api-key").value.trim();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

// A readable sentence from an RFC 9457 problem (title, detail, field errors) or a bare status.
async function problemMessage(response) {
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  if (!body || typeof body.detail !== "string") {
    return `The service answered ${response.status} ${response.statusText || ""}`.trim() + ".";
  }
  let message = `${body.title || "Error"}: ${body.detail}`;
  if (Array.isArray(body.errors) && body.errors.length) {
    message += " — " + body.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
  }
  if (response.status === 401 || response.status === 403) {
    $("key-field").hidden = false;
    message += " Enter a valid API key above.";
  }
  return message;
}

async function api(method, path, body) {
  let response;
  try {
    response = await fetch(path, {method, headers: headers(body !== undefined),
                                  body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (err) {
    throw new ApiError(`Cannot reach the service (${err.message}).`);
  }
  if (!response.ok) throw new ApiError(await problemMessage(response));
  return response;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

// --- taxonomies --------------------------------------------------------------------

async function loadTaxonomies() {
  const select = $("taxonomy");
  try {
    const {taxonomies} = await (await api("GET", "/v1/taxonomies")).json();
    const typed = select.querySelector('option[value=""]');
    const previous = select.value;
    select.replaceChildren(...taxonomies.map((t) => new Option(`${t.title} (${t.name}, ${t.topics} topics)`, t.name)),
                           typed);
    const fallback = taxonomies.find((t) => t.default);
    select.value = taxonomies.some((t) => t.name === previous) ? previous : (fallback ? fallback.name : "");
    $("status").textContent = "";
    showError("");
  } catch (err) {
    showError(`Could not list the taxonomies. ${err.message}`);
  }
  toggleLabels();
}

function toggleLabels() {
  $("labels-field").hidden = $("taxonomy").value !== "";
}

async function topicOptions(taxonomy, typed) {
  if (taxonomy === null) return typed;
  const detail = await (await api("GET", `/v1/taxonomies/${encodeURIComponent(taxonomy)}`)).json();
  return detail.topics.map((t) => ({label: t.name, code: t.code}));
}

// --- tagging -----------------------------------------------------------------------

function typedLabels() {
  return [...new Set($("labels").value.split(",").map((s) => s.trim()).filter(Boolean))];
}

async function tag(event) {
  event.preventDefault();
  showError("");
  const text = $("article").value;
  if (!text.trim()) {
    showError("Paste an article or drop a .txt file first.");
    $("article").focus();
    return;
  }
  const taxonomy = $("taxonomy").value || null;
  const labels = typedLabels();
  if (taxonomy === null && !labels.length) {
    showError("Type at least one label, or pick a taxonomy.");
    $("labels").focus();
    return;
  }
  const request = taxonomy === null ? {text, labels} : {text, taxonomy};
  const button = $("tag-button");
  button.disabled = true;
  $("status").textContent = "Tagging…";
  try {
    const result = await (await api("POST", "/v1/classify", request)).json();
    const options = await topicOptions(result.taxonomy, labels.map((label) => ({label, code: null})));
    show(text, result, options);
    // Warnings say why topics may be missing or unreliable (not news, a language the model does not read).
    const warnings = (result.warnings || []).map((w) => w.message);
    $("status").textContent = [`${result.topics.length} topics found.`, ...warnings].join(" ");
    $("results").focus();
  } catch (err) {
    $("status").textContent = "";
    showError(err.message);
    $("error").focus();
  } finally {
    button.disabled = false;
  }
}

function show(text, result, options) {
  Object.assign(state, {
    text, taxonomy: result.taxonomy, model: result.model.name, options, active: null,
    predicted: result.topics.map((t) => t.label),
    topics: result.topics.map((t) => ({...t, added: false, removed: false})),
  });
  $("model-line").textContent =
    `Model ${result.model.name} (${result.model.kind})` + (result.taxonomy ? `, taxonomy ${result.taxonomy}` : "");
  $("feedback-status").textContent = "";
  $("results").hidden = false;
  renderArticle();
  renderTopics();
}

// --- the article with its evidence -------------------------------------------------

// The API's offsets count code points (Python); JavaScript strings count UTF-16 units.
function unitOffsets(text) {
  const units = [0];
  for (const ch of text) units.push(units[units.length - 1] + ch.length);
  return units;
}

function renderArticle() {
  const view = $("article-view");
  const units = unitOffsets(state.text);
  const spans = [];
  state.topics.forEach((topic) => topic.evidence.forEach((ev, j) => {
    spans.push({label: topic.label, first: j === 0, start: units[ev.start], end: units[ev.end]});
  }));
  const cuts = [...new Set([0, state.text.length, ...spans.flatMap((s) => [s.start, s.end])])].sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [from, to] = [cuts[i], cuts[i + 1]];
    const piece = state.text.slice(from, to);
    const covering = spans.filter((s) => s.start <= from && to <= s.end);
    if (!covering.length) {
      parts.push(document.createTextNode(piece));
      continue;
    }
    const mark = document.createElement("mark");
    mark.textContent = piece;
    const labels = [...new Set(covering.map((s) => s.label))];
    mark.dataset.topics = JSON.stringify(labels);
    mark.title = `Evidence for ${labels.join(", ")}`;
    for (const s of covering) {
      if (s.first && s.start === from) mark.classList.add(`first-${cssId(s.label)}`);
    }
    parts.push(mark);
  }
  view.replaceChildren(...parts);
  highlight(state.active);
}

function cssId(label) {
  return Array.from(label, (ch) => (/[A-Za-z0-9]/.test(ch) ? ch : `_${ch.codePointAt(0)}`)).join("");
}

function marksOf(label) {
  return [...$("article-view").querySelectorAll("mark")].filter((m) => JSON.parse(m.dataset.topics).includes(label));
}

function highlight(label) {
  state.active = label;
  for (const mark of $("article-view").querySelectorAll("mark")) {
    mark.classList.toggle("active", label !== null && JSON.parse(mark.dataset.topics).includes(label));
  }
  for (const item of $("topics").children) item.classList.toggle("active", item.dataset.label === label);
}

function goToEvidence(topic) {
  highlight(topic.label);
  const marks = marksOf(topic.label);
  if (!marks.length) {
    $("feedback-status").textContent = `${topic.label} has no evidence sentence.`;
    return;
  }
  const first = $("article-view").querySelector(`mark.first-${cssId(topic.label)}`) || marks[0];
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  first.scrollIntoView({behavior: smooth ? "smooth" : "auto", block: "center"});
  $("feedback-status").textContent =
    `${topic.label}: ${topic.evidence.length} evidence sentence${topic.evidence.length === 1 ? "" : "s"} highlighted.`;
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
  highlight(state.active);
}

function setRemoved(topic, removed) {
  topic.removed = removed;
  if (topic.added && removed) state.topics = state.topics.filter((t) => t !== topic);
  renderTopics();
  $("feedback-status").textContent = `${topic.label} ${removed ? "removed" : "restored"}.`;
  (removed ? $("add-topic") : $("topics").querySelector(`li[data-label="${CSS.escape(topic.label)}"] button`))
    ?.focus();
}

function addTopic() {
  const label = $("add-topic").value;
  const option = state.options.find((o) => o.label === label);
  if (!option) return;
  state.topics.push({label, code: option.code, score: 0, evidence: [], added: true, removed: false});
  renderTopics();
  $("feedback-status").textContent = `${label} added.`;
  $("add-topic").focus();
}

async function sendFeedback() {
  const labels = state.topics.filter((t) => !t.removed).map((t) => t.label);
  const button = $("send-button");
  button.disabled = true;
  $("feedback-status").textContent = "Sending…";
  showError("");
  try {
    const {id} = await (await api("POST", "/v1/feedback", {
      text: state.text, labels, taxonomy: state.taxonomy, model: state.model, predicted: state.predicted,
    })).json();
    $("feedback-status").textContent = `Correction saved (#${id}): ${labels.join(", ")}.`;
  } catch (err) {
    $("feedback-status").textContent = "Not saved.";
    showError(err.message);
    $("error").focus();
  } finally {
    button.disabled = false;
  }
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
  }
}

// --- the article's input: paste, pick or drop a .txt file --------------------------

async function readFile(file) {
  if (!file) return;
  if (!/\.txt$/i.test(file.name) && !file.type.startsWith("text/")) {
    showError(`${file.name} is not a .txt file.`);
    return;
  }
  $("article").value = await file.text();
  showError("");
  $("status").textContent = `Read ${file.name}.`;
}

function wireDrop() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    readFile(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (e) => readFile(e.target.files[0]));
}

document.addEventListener("DOMContentLoaded", () => {
  $("tag-form").addEventListener("submit", tag);
  $("taxonomy").addEventListener("change", toggleLabels);
  $("api-key").addEventListener("change", loadTaxonomies);
  $("add-button").addEventListener("click", addTopic);
  $("send-button").addEventListener("click", sendFeedback);
  $("export-button").addEventListener("click", downloadExport);
  wireDrop();
  const keysRequired = document.body.dataset.keysRequired === "true";
  if (keysRequired && !$("api-key").value) {
    $("status").textContent = "This service needs an API key: enter it to load the taxonomies.";
  } else {
    loadTaxonomies();
  }
});
