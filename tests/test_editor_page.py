"""The editor's page as served: local assets only, labelled controls, a key field when keys are set."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from service import create_app


class _Controls(HTMLParser):
    """Collects ids, label targets, form controls, and the URLs the page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.controls: list[str] = []
        self.buttons: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.hidden: set[str] = set()
        self.attrs: dict[str, dict[str, str | None]] = {}  # by id
        self.options: dict[str, list[str | None]] = {}  # a select's option values, by its id
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
            self.attrs[a["id"] or ""] = a
            if "hidden" in a:
                self.hidden.add(a["id"] or "")
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"] or "")
        if tag in ("input", "select", "textarea"):
            self.controls.append(a.get("id") or "")
        if tag == "select":
            self._select = a.get("id") or ""
            self.options[self._select] = []
        if tag == "option" and self._select is not None:
            self.options[self._select].append(a.get("value"))
        if tag == "button":
            self.buttons.append(a)
        for attr in ("src", "href"):
            if tag in ("script", "link") and a.get(attr):
                self.urls.append(a[attr] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def parse(html: str) -> _Controls:
    parser = _Controls()
    parser.feed(html)
    return parser


def test_the_page_and_its_assets_are_served_locally(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    html = response.get_data(as_text=True)
    page = parse(html)
    assert sorted(page.urls) == ["/static/editor/editor-api.js", "/static/editor/editor-article.js",
                                 "/static/editor/editor-models.js", "/static/editor/editor.css",
                                 "/static/editor/editor.js", "data:,"]
    bodies = [html]
    for url in [u for u in page.urls if u != "data:,"]:
        mimetype = "text/css" if url.endswith(".css") else "text/javascript"
        asset = client.get(url)
        assert asset.status_code == 200 and asset.mimetype == mimetype
        bodies.append(asset.get_data(as_text=True))
    for body in bodies:  # air-gapped users: no CDN, no web fonts, no absolute URLs at all
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|@font-face", body, re.I)
        assert not re.search(r"\burl\(", body)  # CSS url(...) (JavaScript's URL.createObjectURL is fine)
    assert client.get("/static/editor/../editor.py").status_code == 404


def test_every_control_has_a_label_and_every_button_a_type(client):
    page = parse(client.get("/").get_data(as_text=True))
    assert page.controls and all(c in page.label_for for c in page.controls)
    assert page.label_for <= page.ids
    assert all(b.get("type") in ("button", "submit") for b in page.buttons)


def test_the_api_key_field_shows_only_when_keys_are_set(tagger, client):
    assert "key-field" in parse(client.get("/").get_data(as_text=True)).hidden
    keyed = create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "api_keys": "k"}).test_client()
    response = keyed.get("/")  # the page itself needs no key: the editor types it there
    assert response.status_code == 200
    page = parse(response.get_data(as_text=True))
    assert "key-field" not in page.hidden and "api-key" in page.label_for
    assert 'data-keys-required="true"' in response.get_data(as_text=True)


def scripts(client) -> str:
    return "".join(client.get(f"/static/editor/{name}").get_data(as_text=True)
                   for name in ("editor-api.js", "editor-article.js", "editor-models.js", "editor.js"))


def test_the_script_calls_the_documented_endpoints(client):
    script = scripts(client)
    spec = client.get("/openapi.json").json["paths"]
    called = set(re.findall(r'"(/v1/[a-z/]+)', script))
    assert called == {"/v1/taxonomies", "/v1/models", "/v1/classify", "/v1/feedback", "/v1/feedback/export"}
    assert called <= set(spec)


def test_a_model_can_be_chosen(client):
    """Session 32: editors could tag with the default model only. The choice is a labelled
    select, the default first (the script adds the loaded models), before the taxonomy whose
    field it hides when a fine-tuned model is chosen."""
    page = parse(client.get("/").get_data(as_text=True))
    assert "model" in page.label_for and page.attrs["model"].get("aria-describedby") == "model-hint"
    assert page.options["model"] == [""]  # no model named: the default, which routes by language
    assert page.controls.index("model") < page.controls.index("taxonomy")
    assert "taxonomy-field" in page.ids


def test_a_corrections_warnings_are_heard(client):
    """Session 32: the warnings of a stored correction (201) were not shown. Their list is a
    live region in the page before any text arrives (one that appears with its text is not heard)."""
    warnings = parse(client.get("/").get_data(as_text=True)).attrs["feedback-warnings"]
    assert warnings.get("aria-live") == "polite" and "hidden" not in warnings


class _Directions(HTMLParser):
    """The ``dir`` attribute of every element with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.dir: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.dir[a["id"] or ""] = a.get("dir")


def test_right_to_left_text_shows_in_its_own_direction(client):
    """Arabic or Hebrew typed, dropped or tagged reads right to left; the page's English stays left to right."""
    page = _Directions()
    page.feed(client.get("/").get_data(as_text=True))
    assert {k: page.dir[k] for k in ("article", "labels", "article-view")} == dict.fromkeys(
        ("article", "labels", "article-view"), "auto")
    css = client.get("/static/editor/editor.css").get_data(as_text=True)
    # Each paragraph of the article by its own first strong letter (an English quote in Arabic text).
    assert re.search(r"\.article-view\s*\{\s*unicode-bidi:\s*plaintext;", css)
    script = scripts(client)
    # Topic labels (caller labels may be Arabic) are isolated with their own direction.
    assert script.count('el("span", {className: "label", dir: "auto"}, topic.label)') == 2
    assert 'el("span", {className: "label"}' not in script
    # So are model names (a directory's name) and a fine-tuned model's labels in sentences about them.
    assert 'el("bdi", {}, name)' in script and 'el("bdi", {}, model.name)' in script
    assert 'el("bdi", {}, label)' in script
    # ...in every sentence that names a topic: "اقتصاد: 2 evidence sentences highlighted." spliced
    # as one string showed as "2 :اقتصاد evidence ..." (the digit taken into the Arabic run).
    assert "`${topic.label}" not in script
