// newstag editor, its input and output: requests to the API with the editor's key, readable
// messages from problem details, and text files decoded. Loaded before editor.js.
"use strict";

const $ = (id) => document.getElementById(id);
const keysRequired = () => document.body.dataset.keysRequired === "true";

// --- talking to the API ------------------------------------------------------------

class ApiError extends Error {}

function headers(json) {
  const h = {Accept: "application/json"};
  if (json) h["Content-Type"] = "application/json";
  const key = $("api-key").value.trim();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

// What a field error's JSON pointer names, in the editor's words: "/labels/1" is the label
// the editor typed there ("Economy"), "/text" the article.
function fieldName(path, sent) {
  if (path === "/text") return "the article";
  let value = sent;
  for (const part of String(path).split("/").slice(1)) {
    value = value !== null && typeof value === "object" ? value[part] : undefined;
  }
  return typeof value === "string" && value.length <= 80 ? `"${value}"` : String(path).replace(/^\//, "");
}

const sentence = (text) => text.replace(/[\s.]*$/, ".");

// A readable sentence from an RFC 9457 problem (title, detail, field errors) or a bare status.
async function problemMessage(response, sent) {
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  if (!body || typeof body.detail !== "string") {
    return `The service answered ${response.status} ${response.statusText || ""}`.trim() + ".";
  }
  let message = sentence(`${body.title || "Error"}: ${body.detail}`);
  if (Array.isArray(body.errors) && body.errors.length) {
    message += " " + sentence(body.errors.map((e) => `${fieldName(e.path, sent)}: ${e.message}`).join("; "));
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
  if (!response.ok) throw new ApiError(await problemMessage(response, body));
  return response;
}

// A text file's encoding: its byte-order mark, else UTF-8 if it is valid UTF-8, else
// Windows-1252 (what older newsroom systems write), said in the status line.
function decodeText(bytes) {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return {text: new TextDecoder("utf-16le").decode(bytes)};
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return {text: new TextDecoder("utf-16be").decode(bytes)};
  // UTF-16 without a byte-order mark is valid UTF-8 (every other byte NUL): read as it was, the
  // article was full of invisible NULs that the correction store refuses. Mostly-NUL odd (or even)
  // bytes say which UTF-16 it is (text mostly in Latin letters has a NUL in every other byte).
  const head = bytes.subarray(0, 4096);
  const nulAt = (parity) => head.filter((b, i) => i % 2 === parity && b === 0).length / Math.max(head.length / 2, 1);
  if (head.length >= 4 && nulAt(1) > 0.3 && nulAt(0) < 0.05) {
    return {text: new TextDecoder("utf-16le").decode(bytes), note: " It has no byte-order mark: read as UTF-16."};
  }
  if (head.length >= 4 && nulAt(0) > 0.3 && nulAt(1) < 0.05) {
    return {text: new TextDecoder("utf-16be").decode(bytes), note: " It has no byte-order mark: read as UTF-16."};
  }
  try {
    return {text: new TextDecoder("utf-8", {fatal: true}).decode(bytes)};  // drops a UTF-8 BOM
  } catch (_) {
    return {text: new TextDecoder("windows-1252").decode(bytes), note: " It is not UTF-8: read as Windows-1252 (Latin-1); check its accented letters."};
  }
}
