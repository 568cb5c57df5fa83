// newstag editor: the tagged article with each kept topic's evidence highlighted by the
// API's offsets, each highlight naming its topics to screen readers; clicking a topic emphasises
// and scrolls to its evidence. Uses editor.js's state.
"use strict";

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
  state.topics.filter((t) => !t.removed).forEach((topic) => topic.evidence.forEach((ev, j) => {
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
    const labels = [...new Set(covering.map((s) => s.label))];
    // Words for a screen reader first (highlight() fills them; shown on hover too), then the text.
    const mark = el("mark", {}, evidencePrefix(), piece);
    mark.dataset.topics = JSON.stringify(labels);
    for (const s of covering) {
      if (s.first && s.start === from) mark.classList.add(`first-${cssId(s.label)}`);
    }
    parts.push(mark);
  }
  view.replaceChildren(...parts);
  highlight(state.active);
}

// A class name for any label, one to one (" 1" and "Ł" must not meet): _<code point>_ for the rest.
function cssId(label) {
  return Array.from(label, (ch) => (/[A-Za-z0-9]/.test(ch) ? ch : `_${ch.codePointAt(0)}_`)).join("");
}

function marksOf(label) {
  return [...$("article-view").querySelectorAll("mark")].filter((m) => JSON.parse(m.dataset.topics).includes(label));
}

// What a screen reader hears at the start of each highlight, "evidence for demining, economy:",
// and "(selected topic)" after the pressed topic's name. Visually hidden, not selectable (a copied
// sentence is the article's), English (the page's language) isolated from the article's direction:
// in an Arabic article, dir="ltr" keeps its words in order and leaves the Arabic around it alone.
// The same words are the mouse's tooltip (editor.css shows them on hover), in place of a title,
// which Chromium gave the highlight as its description: a screen reader heard the topics twice.
function evidencePrefix() {
  return el("span", {className: "visually-hidden evidence-for", lang: "en", dir: "ltr"});
}

function sayTopics(mark, active) {
  const labels = JSON.parse(mark.dataset.topics);
  // Each label in its own <bdi>: a right-to-left label beside others would reorder the list.
  mark.querySelector(".evidence-for").replaceChildren("evidence for ", ...labels.flatMap((label, i) => [
    ...(i ? [", "] : []), el("bdi", {}, label), ...(label === active ? [" (selected topic)"] : [])]), ": ");
}

// Escape hides the tooltip under the pointer until the pointer leaves that highlight (WCAG 1.4.13:
// content shown on hover can be dismissed without moving the pointer). A tooltip that would run
// past the window's right edge (a highlight that starts late in a line on a phone) moves left.
function wireTooltips() {
  const view = $("article-view");
  view.addEventListener("mouseover", (e) => {
    const words = e.target.closest?.("mark")?.querySelector(".evidence-for");
    if (!words) return;
    words.style.left = "";
    const over = words.getBoundingClientRect().right - document.documentElement.clientWidth + 4;
    if (over > 0) words.style.left = `${-over}px`;
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") view.querySelector("mark:hover")?.classList.add("quiet");
  });
  view.addEventListener("mouseout", (e) => {
    const mark = e.target.closest?.("mark.quiet");
    if (mark && !mark.contains(e.relatedTarget)) mark.classList.remove("quiet");
  });
}

function highlight(label) {
  state.active = label;
  for (const mark of $("article-view").querySelectorAll("mark")) {
    mark.classList.toggle("active", label !== null && JSON.parse(mark.dataset.topics).includes(label));
    sayTopics(mark, label);
  }
  for (const item of $("topics").children) {
    item.classList.toggle("active", item.dataset.label === label);
    item.querySelector(".topic-name")?.setAttribute("aria-pressed", String(item.dataset.label === label));
  }
}

function goToEvidence(topic) {
  highlight(topic.label);
  const marks = marksOf(topic.label);
  if (!marks.length) {
    $("feedback-status").replaceChildren(el("bdi", {}, topic.label), " has no evidence sentence.");
    return;
  }
  const first = $("article-view").querySelector(`mark.first-${cssId(topic.label)}`) || marks[0];
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  first.scrollIntoView({behavior: smooth ? "smooth" : "auto", block: "center"});
  // The label in its own <bdi>: an Arabic one took the count into its run ("2 :اقتصاد evidence ...").
  $("feedback-status").replaceChildren(el("bdi", {}, topic.label),
    `: ${topic.evidence.length} evidence sentence${topic.evidence.length === 1 ? "" : "s"} highlighted.`);
}
