"""The editor's page in a real browser: headless Debian Chromium, driven by Playwright.

The test starts the service itself on 127.0.0.1 (the real model, API keys on) and does
what an editor does: types the key, meets readable errors (403, 413, 422), drops and pastes
the seed article, reads the topics, looks at the demining evidence, removes a topic with
the keyboard, adds one, sends the correction, and finds it in the export. It saves
docs/screenshot.png, which the README shows. Deselect it with `-m "not e2e"`; under CI it
must run, so a missing browser fails it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from service import create_app
from tests.conftest import ROOT, skip_unless_required

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # skipped where not required; CI requires it
    expect = sync_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.e2e
KEY = "editor-key"
MISSION_TOPICS = {"bilateral relations", "economy", "COP29", "demining"}
SCREENSHOT = ROOT / "docs" / "screenshot.png"


def chromium() -> str:
    found = os.environ.get("NEWSTAG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        skip_unless_required("Debian's chromium is not installed (scripts/install_e2e.sh installs it)")
    return str(found)


# Any free port by default; NEWSTAG_E2E_PORT pins one, where only some ports may be used.
PORT = int(os.environ.get("NEWSTAG_E2E_PORT", "0"))


@contextmanager
def serving(app) -> Iterator[str]:
    """The app on 127.0.0.1 in a thread, as the base URL; stopped afterwards."""
    httpd = make_server("127.0.0.1", PORT, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()  # the pinned port is free for the next test
        thread.join(10)


@pytest.fixture()
def server(tagger, tmp_path):
    with serving(create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "api_keys": KEY,
                             "max_body_bytes": 50_000, "database_url": f"sqlite:///{tmp_path}/feedback.db"})) as url:
        yield url


def call(url: str, method: str = "GET", key: str = KEY) -> str:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def get_json_lines(url: str) -> list[dict]:
    return [json.loads(line) for line in call(url).splitlines()]


def loaded_models(server: str) -> dict[str, dict]:
    return {m["name"]: m for m in json.loads(call(f"{server}/v1/models"))["models"]}


@contextmanager
def editor_page(viewport_height: int = 900) -> Iterator:
    """A page in headless Chromium, closed afterwards; skipped (failed under CI) without the browser or Playwright."""
    executable = chromium()
    if sync_playwright is None:
        skip_unless_required("playwright is not installed (requirements-dev.txt)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": viewport_height})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


def open_editor(page, server: str) -> None:
    """The page, with the API key given and the taxonomies listed (the key's field left by Tab)."""
    page.goto(f"{server}/")
    page.fill("#api-key", KEY)
    page.keyboard.press("Tab")
    expect(page.locator("#taxonomy")).to_have_value("news")


def tag_article(page, text: str) -> None:
    page.fill("#article", text)
    page.click("#tag-button")
    expect(page.locator("#status")).to_contain_text("topics found")


def test_an_editor_tags_the_seed_article_corrects_it_and_the_export_has_it(server, seed_text):
    with editor_page() as page:
        problems: list[str] = []  # script errors, or anything the CSP blocked
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)

        page.goto(f"{server}/")
        # A wrong key reads as a sentence from the problem's detail, not as a status code.
        page.fill("#api-key", "not-the-key")
        page.keyboard.press("Tab")
        expect(page.locator("#error")).to_contain_text("API key not accepted: the API key is not valid")
        problems.clear()  # the browser logs the 403 itself
        page.fill("#api-key", KEY)
        page.keyboard.press("Tab")
        expect(page.locator("#taxonomy")).to_have_value("news")
        expect(page.locator("#error")).to_be_hidden()

        # API errors read as sentences too: 413 for a body over the limit, 422 naming the field.
        page.fill("#article", "A very long article. " * 3000)
        page.click("#tag-button")
        expect(page.locator("#error")).to_contain_text("Request body too large")
        page.select_option("#taxonomy", "")
        page.fill("#labels", "x" * 201)
        page.fill("#article", seed_text)
        page.click("#tag-button")
        expect(page.locator("#error")).to_contain_text("Request failed validation")
        expect(page.locator("#error")).to_contain_text("labels/0")
        problems.clear()
        page.select_option("#taxonomy", "news")

        # A text that is not news gets no topic, and the status line says why.
        page.fill("#article", "We use cookies to give you the best experience on our website. By clicking "
                              "Accept you agree to our use of cookies. Manage preferences.")
        page.click("#tag-button")
        expect(page.locator("#status")).to_have_text("0 topics found.")
        expect(page.locator("#warnings")).to_contain_text("The text does not read like news")

        # A .txt file dropped on the article box fills it.
        page.fill("#article", "")
        transfer = page.evaluate_handle("""text => { const t = new DataTransfer();
            t.items.add(new File([text], "seed.txt", {type: "text/plain"})); return t; }""", seed_text)
        page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
        expect(page.locator("#article")).to_have_value(seed_text)

        # 1. Paste the seed article and tag it: the four mission topics are there.
        page.fill("#article", seed_text)
        page.click("#tag-button")
        expect(page.locator("#results")).to_be_visible()
        expect(page.locator("#topics .topic").first).to_be_visible()  # not the cookie banner's empty list
        shown = set(page.locator("#topics .topic .label").all_inner_texts())
        assert MISSION_TOPICS <= shown, shown
        bilateral = page.locator('#topics li[data-label="bilateral relations"]')
        expect(bilateral.locator(".code")).to_have_text("medtop:20000639")
        predicted = page.locator("#topics .topic").evaluate_all("items => items.map(i => i.dataset.label)")

        # 2. Clicking demining highlights its evidence, and scrolls to it.
        page.click('#topics li[data-label="demining"] .topic-name')
        active = page.locator("#article-view mark.active")
        expect(active.first).to_be_in_viewport()
        assert "mine threat" in " ".join(active.all_inner_texts())
        assert page.locator("#article-view mark").count() > active.count() > 0  # other topics' evidence stays
        page.evaluate("window.scrollTo(0, 0)")  # the topic panel is sticky: shoot it at its place
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        # 3. Remove a topic with the keyboard alone, add a missing one, send the correction.
        removed = next(label for label in predicted if label not in MISSION_TOPICS)
        page.locator(f'#topics li[data-label="{removed}"] .remove').focus()
        page.keyboard.press("Enter")
        expect(page.locator(f'#topics li[data-label="{removed}"]')).to_have_count(0)
        expect(page.locator("#removed")).to_contain_text(removed)
        # Its evidence is no longer highlighted as evidence for it.
        topics = page.locator("#article-view mark").evaluate_all("ms => ms.map(m => JSON.parse(m.dataset.topics))")
        assert topics and not any(removed in labels for labels in topics), topics
        addable = page.locator("#add-topic option").evaluate_all("options => options.map(o => o.value)")
        added = "agriculture" if "agriculture" in addable else addable[0]  # the article mentions agriculture
        page.select_option("#add-topic", added)
        page.click("#add-button")
        expect(page.locator(f'#topics li[data-label="{added}"]')).to_have_count(1)
        page.click("#send-button")
        expect(page.locator("#feedback-status")).to_contain_text("Correction saved")
        assert not problems, problems

    # 4. The export has the correction, as training data, with the version of the model that answered.
    expected = [label for label in predicted if label != removed] + [added]
    version = loaded_models(server)["all-MiniLM-L6-v2"]["version"]
    assert get_json_lines(f"{server}/v1/feedback/export?format=jsonl") == [
        {"text": seed_text, "labels": expected, "taxonomy": "news", "model": "all-MiniLM-L6-v2",
         "model_version": version}]
    assert Path(SCREENSHOT).stat().st_size > 20_000


def test_what_an_editor_meets_around_the_tagging(server, seed_text):
    """Session 27's findings in a browser: the key asked for first, Enter in the key field
    tags, a Latin-1 file read as such (and the same file twice), case-only duplicate labels,
    results marked stale when the text changes, a late correction reply kept out of the next
    article's panel, and a panel no taller than the window."""
    with editor_page(viewport_height=500) as page:
        page.goto(f"{server}/")
        # No key yet: tagging asks for it, with the focus on its field.
        page.fill("#article", seed_text)
        page.click("#tag-button")
        expect(page.locator("#error")).to_have_text("Enter the API key first.")
        expect(page.locator("#api-key")).to_be_focused()
        # Enter in the key field loads the taxonomies and tags (it did nothing, silently).
        page.fill("#api-key", KEY)
        page.press("#api-key", "Enter")
        expect(page.locator("#topics .topic").first).to_be_visible()
        expect(page.locator("#error")).to_be_hidden()
        # Many topics beside a long article: the panel scrolls on its own within the window.
        box = page.locator(".panel").bounding_box()
        assert box is not None and box["height"] <= 500, box

        # A correction whose reply comes after the next article was tagged stays out of its panel.
        held = []
        page.route("**/v1/feedback", lambda route: held.append(route))
        page.click("#send-button")
        page.wait_for_function("() => document.querySelector('#feedback-status').textContent === 'Sending…'")
        page.fill("#article", "Hello")
        page.click("#tag-button")
        expect(page.locator("#status")).to_have_text("0 topics found.")
        expect(page.locator("#send-button")).to_be_disabled()
        held[0].continue_()
        expect(page.locator("#status")).to_contain_text("(the article tagged before)")
        expect(page.locator("#feedback-status")).to_have_text("")
        expect(page.locator("#send-button")).to_be_disabled()  # nothing to send for "Hello"
        page.unroute("**/v1/feedback")

        # Results are marked stale when the text in the box is no longer the one tagged.
        expect(page.locator("#stale")).to_be_hidden()
        page.fill("#article", "Hello again")
        expect(page.locator("#stale")).to_be_visible()

        # A Windows-1252 file is read as such, and says so; the same file chosen twice is read twice.
        latin1 = {"name": "latin1.txt", "mimeType": "text/plain",
                  "buffer": "Le caf\u00e9 de Z\u00fcrich co\u00fbte \u00a3100.".encode("cp1252")}
        page.set_input_files("#file", files=[latin1])
        expect(page.locator("#article")).to_have_value("Le caf\u00e9 de Z\u00fcrich co\u00fbte \u00a3100.")
        expect(page.locator("#status")).to_contain_text("read as Windows-1252")
        page.fill("#article", "")
        page.set_input_files("#file", files=[latin1])
        expect(page.locator("#article")).to_have_value("Le caf\u00e9 de Z\u00fcrich co\u00fbte \u00a3100.")
        # UTF-16 without a byte-order mark is valid UTF-8 full of NULs, which a correction may not hold.
        mixed = "\u0417\u0430\u0432\u043e\u0434 closed. Prices rose."
        for codec in ("utf-16-le", "utf-16-be"):
            page.set_input_files("#file", files=[{"name": "utf16.txt", "mimeType": "text/plain",
                                                  "buffer": mixed.encode(codec)}])
            expect(page.locator("#article")).to_have_value(mixed)
            expect(page.locator("#status")).to_contain_text("read as UTF-16")
        # A NUL typed or pasted is removed before tagging, so the correction can be stored.
        page.evaluate("() => { document.querySelector('#article').value = 'Prices rose\u0000 in the shops.'; }")
        page.click("#tag-button")
        expect(page.locator("#status")).to_contain_text("NUL characters were removed")
        expect(page.locator("#article")).to_have_value("Prices rose in the shops.")

        # Labels typed twice in different case are one label (the API refused the pair with a 422).
        page.select_option("#taxonomy", "")
        page.fill("#labels", "economy, Economy, sports")
        page.fill("#article", seed_text)
        page.click("#tag-button")
        expect(page.locator("#status")).to_contain_text("found.")
        expect(page.locator("#error")).to_be_hidden()


ADMIN_KEY = "admin-key"
CLIMATE = "Sea levels rose faster than forecast as the glaciers melted through a record warm summer."
SPORT = "The striker scored twice in the cup final. Fans celebrated in the stadium until midnight."


@pytest.fixture()
def desk_server(tagger, tmp_path, models_dir):
    """The service with the fine-tuned desk-topics (models_dir) and an admin key for reloads."""
    with serving(create_app({"TAGGER": tagger, "LOAD_IN_BACKGROUND": False, "api_keys": KEY,
                             "admin_keys": ADMIN_KEY, "models_dir": models_dir,
                             "database_url": f"sqlite:///{tmp_path}/feedback.db"})) as url:
        yield url


def test_an_editor_corrects_a_fine_tuned_model_retrained_meanwhile(desk_server, models_dir, retrained_model_dir):
    """Session 32's findings: the page tagged with the default model only (no choice of a
    fine-tuned one); a correction did not name the version that answered, so one sent after
    the model was retrained in place was refused (422) rather than stored with a warning; and
    the 201's warnings were not shown."""
    server = desk_server
    with editor_page() as page:
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        classify: list[dict] = []  # the bodies of POST /v1/classify and /v1/feedback, as sent
        feedback: list[dict] = []
        page.on("request", lambda r: classify.append(r.post_data_json) if r.url.endswith("/v1/classify") else None)
        page.on("request", lambda r: feedback.append(r.post_data_json) if r.url.endswith("/v1/feedback") else None)
        open_editor(page, server)

        # 1. The default first, then the fine-tuned model by name. Chosen, it hides the fields
        # that do not apply to it (classify refuses a taxonomy with it) and names its labels.
        desk = loaded_models(server)["desk-topics"]
        options = page.locator("#model option").evaluate_all("os => os.map(o => [o.value, o.textContent])")
        assert [value for value, _ in options] == ["", "desk-topics"], options
        assert "all-MiniLM-L6-v2" in options[0][1] and "fine-tuned, 4 labels" in options[1][1], options
        page.select_option("#model", "desk-topics")
        expect(page.locator("#taxonomy-field")).to_be_hidden()
        expect(page.locator("#labels-field")).to_be_hidden()
        for label in desk["labels"]:
            expect(page.locator("#model-hint")).to_contain_text(label)
        expect(page.locator("#status")).to_contain_text("desk-topics has labels of its own")

        # 2. Tagged by it, with neither a taxonomy nor labels; the topics to add are its own labels.
        page.fill("#article", CLIMATE)
        page.click("#tag-button")
        expect(page.locator("#status")).to_contain_text("found.")
        assert classify[-1] == {"text": CLIMATE, "model": "desk-topics"}, classify[-1]
        expect(page.locator("#model-line")).to_have_text(f"Model desk-topics (classifier, version {desk['version']})")
        predicted = page.locator("#topics .topic").evaluate_all("items => items.map(i => i.dataset.label)")
        addable = page.locator("#add-topic option").evaluate_all("options => options.map(o => o.value)")
        assert sorted(predicted + addable) == sorted(desk["labels"]), (predicted, addable)

        # 3. Meanwhile desk-topics is retrained in place ('climate' became 'environment') and reloaded.
        shutil.rmtree(models_dir / "desk-topics")
        shutil.copytree(retrained_model_dir, models_dir / "desk-topics")
        call(f"{server}/v1/models/reload", method="POST", key=ADMIN_KEY)
        retrained = loaded_models(server)["desk-topics"]
        assert retrained["version"] != desk["version"] and "climate" not in retrained["labels"]

        # 4. The editor's correction keeps 'climate', a label of the version that answered: stored
        # (it was a 422), and the warning shown beside the status, the focus left on Send.
        if "climate" not in predicted:
            page.select_option("#add-topic", "climate")
            page.click("#add-button")
        page.locator("#send-button").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#feedback-status")).to_contain_text("Correction saved")
        expect(page.locator("#feedback-status")).to_contain_text("Stored with a warning:")
        expect(page.locator("#feedback-warnings li")).to_have_count(1)
        expect(page.locator("#feedback-warnings")).to_contain_text(
            f"model 'desk-topics' is version {retrained['version']} now, not {desk['version']}")
        expect(page.locator("#feedback-warnings")).to_be_visible()
        expect(page.locator("#send-button")).to_be_focused()
        expect(page.locator("#error")).to_be_hidden()
        sent = feedback[-1]
        assert (sent["model"], sent["model_version"], sent["taxonomy"]) == ("desk-topics", desk["version"], None), sent

        # 5. Back to the default: the taxonomy chosen before applies again, and no model is named.
        page.select_option("#model", "")
        expect(page.locator("#taxonomy-field")).to_be_visible()
        expect(page.locator("#taxonomy")).to_have_value("news")
        page.click("#tag-button")
        expect(page.locator("#model-line")).to_contain_text("Model all-MiniLM-L6-v2")
        assert classify[-1] == {"text": CLIMATE, "taxonomy": "news"}, classify[-1]
        expect(page.locator("#feedback-warnings li")).to_have_count(0)  # they were the last article's

        # 6. The listing was read again after tagging: the retrained model's labels are offered.
        page.select_option("#model", "desk-topics")
        expect(page.locator("#model-hint")).to_contain_text("environment")
        page.fill("#article", SPORT)
        page.click("#tag-button")
        expect(page.locator("#model-line")).to_contain_text(retrained["version"])
        predicted = page.locator("#topics .topic").evaluate_all("items => items.map(i => i.dataset.label)")
        addable = page.locator("#add-topic option").evaluate_all("options => options.map(o => o.value)")
        assert sorted(predicted + addable) == sorted(retrained["labels"]), (predicted, addable)

        # 7. A correction whose reply comes after the next article was tagged: its warning is in
        # the page's status line with it, not in the new article's panel. (desk-topics was
        # archived meanwhile: the correction is stored, with a model-not-loaded warning.)
        shutil.move(models_dir / "desk-topics", models_dir.parent / "archived-desk-topics")
        call(f"{server}/v1/models/reload", method="POST", key=ADMIN_KEY)
        if not predicted:  # something to send
            page.click("#add-button")
        held: list = []
        page.route("**/v1/feedback", lambda route: held.append(route))
        page.click("#send-button")
        page.wait_for_function("() => document.querySelector('#feedback-status').textContent === 'Sending…'")
        page.select_option("#model", "")
        page.click("#tag-button")
        expect(page.locator("#model-line")).to_contain_text("Model all-MiniLM-L6-v2")
        held[0].continue_()
        expect(page.locator("#status")).to_contain_text("(the article tagged before). Warning: no model named "
                                                        "'desk-topics' is loaded now")
        expect(page.locator("#feedback-warnings li")).to_have_count(0)
        page.unroute("**/v1/feedback")
        assert not problems, problems

    # The export keeps the editor's labels with the version they corrected.
    rows = {r["text"]: r for r in get_json_lines(f"{server}/v1/feedback/export?format=jsonl")}
    assert [(r["model"], r["model_version"], r["taxonomy"]) for r in (rows[CLIMATE], rows[SPORT])] == [
        ("desk-topics", desk["version"], None), ("desk-topics", retrained["version"], None)], rows
    assert "climate" in rows[CLIMATE]["labels"]


def test_a_model_renamed_on_the_service_while_the_page_is_open_is_no_longer_offered(desk_server, models_dir):
    """The listing was read again only after a successful tag: a fine-tuned model renamed (or
    removed) on the service stayed chosen, and every tag with it failed (404) until the editor
    thought of choosing another. A failed tag now rereads the listing: the default model is
    chosen, the status line says why, and the model is offered under its new name."""
    server = desk_server
    with editor_page() as page:
        problems: list[str] = []  # script errors (the browser logs the 404 itself: not one)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        classify: list[dict] = []
        page.on("request", lambda r: classify.append(r.post_data_json) if r.url.endswith("/v1/classify") else None)
        open_editor(page, server)
        page.select_option("#model", "desk-topics")
        expect(page.locator("#taxonomy-field")).to_be_hidden()

        # Meanwhile desk-topics is renamed on the service and the models reloaded.
        shutil.move(models_dir / "desk-topics", models_dir / "desk-topics-2")
        call(f"{server}/v1/models/reload", method="POST", key=ADMIN_KEY)
        page.fill("#article", CLIMATE)
        page.click("#tag-button")
        expect(page.locator("#error")).to_contain_text("no loaded model named 'desk-topics'")
        expect(page.locator("#error")).to_be_focused()
        expect(page.locator("#status")).to_have_text(
            "desk-topics is not loaded any more (removed or renamed on the service): the default model is chosen. "
            "Tag again to use it.")
        expect(page.locator("#model")).to_have_value("")
        assert page.locator("#model option").evaluate_all("os => os.map(o => o.value)") == ["", "desk-topics-2"]
        expect(page.locator("#taxonomy-field")).to_be_visible()  # the default's fields are back
        expect(page.locator("#taxonomy")).to_have_value("news")

        # Tagging again uses the default with the taxonomy chosen before.
        page.click("#tag-button")
        expect(page.locator("#status")).to_contain_text("found.")
        expect(page.locator("#model-line")).to_contain_text("Model all-MiniLM-L6-v2")
        assert classify[-1] == {"text": CLIMATE, "taxonomy": "news"}, classify[-1]

        # A failure that is not the model's (the service busy) keeps the model chosen.
        page.select_option("#model", "desk-topics-2")
        page.route("**/v1/classify", lambda route: route.fulfill(
            status=503, content_type="application/problem+json",
            body='{"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "busy"}'))
        page.click("#tag-button")
        expect(page.locator("#error")).to_contain_text("Service Unavailable: busy.")
        expect(page.locator("#model")).to_have_value("desk-topics-2")
        expect(page.locator("#status")).to_have_text("")
        page.unroute("**/v1/classify")
        assert not problems, problems


def test_a_taxonomy_without_a_title_is_offered_by_its_name(server):
    """title is optional in a taxonomy file (docs/taxonomies.md): one without it was offered as
    " (desk, 1 topics)", a blank where its name belongs."""
    listing = {"taxonomies": [
        {"name": "desk", "title": "", "description": "", "topics": 1, "default": False},
        {"name": "news", "title": "International and regional news", "description": "", "topics": 39,
         "default": True}]}
    with editor_page() as page:
        page.route("**/v1/taxonomies", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                   body=json.dumps(listing)))
        open_editor(page, server)
        assert page.locator("#taxonomy option").all_inner_texts()[:2] == [
            "desk (1 topic)", "International and regional news (news, 39 topics)"]


def test_the_default_model_tags_when_the_models_cannot_be_listed(server, seed_text):
    """The model choice read /v1/models together with /v1/taxonomies: one failed listing
    blocked every tag, with the default model too (session 32's review)."""
    with editor_page() as page:
        page.route("**/v1/models", lambda route: route.fulfill(
            status=503, content_type="application/problem+json",
            body='{"type": "about:blank", "title": "Service Unavailable", "status": 503}'))
        page.goto(f"{server}/")
        page.fill("#article", seed_text)
        page.fill("#api-key", KEY)
        page.click("#tag-button")
        expect(page.locator("#topics .topic").first).to_be_visible()
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#model option")).to_have_count(1)


def test_keyboard_focus_busy_tagging_and_labels_as_the_api_compares_them(server, seed_text):
    """Session 30's findings: labels the API takes as one (case folding, Unicode forms) sent
    once; the Tag button busy at once (one POST however often Enter is pressed), stale results
    left alone while a tag request runs; the focus on an enabled control after Remove, Add
    and Send."""
    with editor_page() as page:
        classify: list[dict] = []  # the bodies of POST /v1/classify, as sent
        feedback: list[dict] = []
        page.on("request", lambda r: classify.append(r.post_data_json) if r.url.endswith("/v1/classify") else None)
        page.on("request", lambda r: feedback.append(r.post_data_json) if r.url.endswith("/v1/feedback") else None)
        page.goto(f"{server}/")

        # Enter pressed three times while the taxonomies load (a slow network): one request.
        held: list = []
        page.route("**/v1/taxonomies", lambda route: held.append(route))
        page.fill("#article", seed_text)
        page.fill("#api-key", KEY)
        for _ in range(3):
            page.press("#api-key", "Enter")
        busy = page.evaluate("() => { const b = document.querySelector('#tag-button'); "
                             "return b.disabled || b.getAttribute('aria-disabled') === 'true'; }")
        for route in held:
            route.continue_()
        page.unroute("**/v1/taxonomies")
        expect(page.locator("#status")).to_contain_text("found.")
        assert len(classify) == 1, f"{len(classify)} POST /v1/classify"
        assert busy  # at once, while the taxonomies loaded
        expect(page.locator("#tag-button")).not_to_have_attribute("aria-disabled", "true")
        expect(page.locator("#topics .topic").first).to_be_visible()

        # While the next tag request runs, the results on screen are busy: Remove and Send do nothing.
        held.clear()
        page.route("**/v1/classify", lambda route: held.append(route))
        page.locator("#tag-button").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#topics")).to_have_attribute("aria-busy", "true")
        expect(page.locator("#article-view")).to_have_attribute("aria-busy", "true")
        first = page.locator("#topics .topic").first.get_attribute("data-label")
        page.locator(f'#topics li[data-label="{first}"] .remove').focus()
        page.keyboard.press("Enter")
        page.locator("#send-button").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#feedback-status")).to_have_text("Wait: the article is being tagged.")
        # That "Wait" is heard: no busy region holds its live region back (session 43's a11y audit).
        assert page.evaluate("() => !document.querySelector('#feedback-status').closest('[aria-busy=\"true\"]')")
        expect(page.locator(f'#topics li[data-label="{first}"]')).to_have_count(1)
        expect(page.locator("#removed-box")).to_be_hidden()
        for route in held:
            route.continue_()
        page.unroute("**/v1/classify")
        expect(page.locator("#topics")).to_have_attribute("aria-busy", "false")
        assert len(classify) == 2 and not feedback, (classify, feedback)

        # The keyboard focus lands on an enabled control after Remove, Restore, Add and Send.
        def focus_is_on(selector: str) -> None:
            expect(page.locator(selector)).to_be_focused()
            expect(page.locator(selector)).to_be_enabled()

        page.locator(f'#topics li[data-label="{first}"] .remove').focus()
        page.keyboard.press("Enter")
        focus_is_on(f'#removed li[data-label="{first}"] .restore')
        page.keyboard.press("Enter")
        focus_is_on(f'#topics li[data-label="{first}"] .topic-name')

        # Labels equal once the API folds case (ß is ss) and composes accents: sent once each.
        page.select_option("#taxonomy", "")
        page.fill("#labels", "Stra\u00dfe, STRASSE, STRA\u1e9eE, \u00e9conomie, e\u0301conomie, \u00c9CONOMIE")
        page.fill("#article", seed_text)
        page.click("#tag-button")
        expect(page.locator("#status")).to_contain_text("found.")
        expect(page.locator("#error")).to_be_hidden()
        assert classify[-1]["labels"] == ["Stra\u00dfe", "\u00e9conomie"], classify[-1]
        # A key entered again lists the taxonomies again; "labels I type" stayed chosen (it went back to news).
        page.fill("#api-key", KEY + " ")
        page.keyboard.press("Tab")
        expect(page.locator("#status")).to_have_text("")
        expect(page.locator("#taxonomy")).to_have_value("")
        expect(page.locator("#labels-field")).to_be_visible()

        # Add until nothing is left to add (the list and its button disabled), remove an added
        # topic, and send: each time the focus stays on something the keyboard can use.
        page.fill("#article", "Hello")  # not news: no topic, so both labels are left to add
        page.click("#tag-button")
        expect(page.locator("#status")).to_contain_text("found.")
        assert page.locator("#add-topic option").count() == 2
        while page.locator("#add-topic option").count():
            label = page.locator("#add-topic").input_value()
            page.locator("#add-button").focus()
            page.keyboard.press("Enter")
            expect(page.locator(f'#topics li[data-label="{label}"]')).to_have_count(1)
            focus_is_on("#add-topic" if page.locator("#add-topic option").count()
                        else f'#topics li[data-label="{label}"] .topic-name')
        page.locator(f'#topics li[data-label="{label}"] .remove').focus()
        page.keyboard.press("Enter")
        focus_is_on("#add-topic")  # the added topic goes back to the list
        # Labels keep their own direction in the sentences that name them (a <bdi> each).
        expect(page.locator("#feedback-status bdi")).to_have_text([label])
        page.locator("#send-button").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#feedback-status")).to_contain_text("Correction saved")
        expect(page.locator("#feedback-status bdi")).to_have_text(feedback[-1]["labels"])
        focus_is_on("#send-button")


def test_what_screen_readers_and_low_vision_get(server, seed_text):
    """Session 30's findings on what the page tells assistive technology: the warnings heard
    with the results, the article's language, a skip link that leads somewhere, a named
    article view; and cues that do not rest on faint colour alone."""
    with editor_page() as page:
        page.goto(f"{server}/")
        # "Skip to the topics" is not offered before there are topics to skip to.
        leads_somewhere = ("() => { const a = document.querySelector('a.skip'); "
                           "return !a.checkVisibility() || document.querySelector(a.hash).checkVisibility(); }")
        assert page.evaluate(leads_somewhere)
        page.fill("#api-key", KEY)
        page.keyboard.press("Tab")
        expect(page.locator("#taxonomy")).to_have_value("news")

        # The warnings are part of the results that get the focus: their description.
        page.fill("#article", "We use cookies to give you the best experience on our website. By clicking "
                              "Accept you agree to our use of cookies. Manage preferences.")
        page.click("#tag-button")
        expect(page.locator("#status")).to_have_text("0 topics found.")
        expect(page.locator("#results")).to_be_focused()
        expect(page.locator("#results")).to_have_accessible_description(re.compile("does not read like news"))

        # The article view speaks the article's language; "und" (too little to tell) is unknown.
        page.fill("#article", "Le gouvernement a pr\u00e9sent\u00e9 mercredi son projet de budget pour "
                              "l'ann\u00e9e prochaine, qui pr\u00e9voit une hausse des d\u00e9penses militaires "
                              "et une baisse des imp\u00f4ts pour les m\u00e9nages.")
        page.click("#tag-button")
        expect(page.locator("#article-view")).to_have_attribute("lang", "fr")
        expect(page.locator("#results")).to_have_accessible_description(re.compile("looks like language 'fr'"))
        page.fill("#article", "Hello")
        page.click("#tag-button")
        expect(page.locator("#article-view")).to_have_attribute("lang", "")
        page.fill("#article", seed_text)
        page.click("#tag-button")
        expect(page.locator("#article-view")).to_have_attribute("lang", "en")

        # With topics, the skip link leads to them; the article view is a named article.
        assert page.evaluate(leads_somewhere)
        page.locator("a.skip").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#results")).to_be_focused()
        expect(page.get_by_role("article", name=re.compile("^Article"))).to_have_id("article-view")

        # Contrast (WCAG 1.4.3, 1.4.11) and cues beyond colour, measured on the page as styled.
        page.evaluate(CONTRAST_JS)
        for selector in ("#article", "#taxonomy", "#api-key", "#add-topic", "#add-button", "#topics .remove"):
            ratio = page.evaluate("s => contrast(style(s).borderTopColor, '#ffffff')", selector)
            assert ratio >= 3, (selector, ratio)
        # Evidence is underlined, not only tinted (its fill is 1.14:1 on white).
        marks = page.locator("#article-view mark")
        assert marks.count() and all("underline" in line for line in marks.evaluate_all(
            "ms => ms.map(m => getComputedStyle(m).textDecorationLine)")), "evidence without an underline"
        # The active topic: pressed, and marked by a bar at 3:1 or more, as its evidence is ringed.
        label = marks.first.evaluate("m => JSON.parse(m.dataset.topics)[0]")
        page.click(f'#topics li[data-label="{label}"] .topic-name')
        topics = page.locator("#topics .topic-name")
        expect(page.locator(f'#topics li[data-label="{label}"] .topic-name')).to_have_attribute("aria-pressed", "true")
        assert topics.evaluate_all("bs => bs.map(b => b.getAttribute('aria-pressed'))").count("true") == 1
        for selector in (f'#topics li[data-label="{label}"] .topic-name', "#article-view mark.active"):
            ratio = page.evaluate("s => contrast(shadowColour(style(s).boxShadow), '#ffffff')", selector)
            assert ratio >= 3, (selector, ratio)
        assert page.evaluate("() => style('#article-view mark:not(.active)').boxShadow") == "none"
        # Out-of-date results keep their text contrast (no fading), and say so beside the article.
        page.fill("#article", "Another article")
        expect(page.locator("#stale")).to_be_visible()
        assert page.evaluate("() => opacity('#article-view')") == 1
        ratio = page.evaluate("() => contrast(style('#article-view').color, style('.article-card').backgroundColor)")
        assert ratio >= 4.5, ratio
        expect(page.locator("#article-heading")).to_contain_text("out of date", use_inner_text=True)


def test_the_topics_reflow_on_a_phone_without_overlapping(server, seed_text):
    """Session 43's a11y audit (WCAG 1.4.10, reflow at 320 CSS px, which is 1280 px at 400%):
    each topic's code beside its 6rem score bar was wider than the topic's button, so the bar
    and score ran out of it and under its Remove button. Everything in a topic stays in it."""
    with editor_page() as page:
        page.set_viewport_size({"width": 320, "height": 640})
        open_editor(page, server)
        tag_article(page, seed_text)
        page.click("#add-button")  # a topic added by you: "added by you" where the score goes
        expect(page.locator("#topics .topic.added")).to_have_count(1)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        outside = page.evaluate("""() => [...document.querySelectorAll('#topics .topic')].flatMap((item) => {
          const button = item.querySelector('.topic-name').getBoundingClientRect();
          const remove = item.querySelector('.remove').getBoundingClientRect();
          const parts = [...item.querySelectorAll('.topic-name > *')].filter((part) => {
            const r = part.getBoundingClientRect();
            return r.left < button.left - 0.5 || r.right > button.right + 0.5 || r.bottom > button.bottom + 0.5;
          }).map((part) => part.className);
          if (button.right > remove.left) parts.push('button under Remove');
          return parts.length ? [[item.dataset.label, parts]] : [];
        })""")
        assert outside == [], outside


def test_long_unbroken_words_from_the_api_wrap_on_a_phone(server):
    """Session 43's a11y audit (WCAG 1.4.10): an error, a warning or a model name with a long
    unbroken word (a path, a file name) widened the page past 320 px into a sideways scroll."""
    word = "/var/lib/newstag/models/" + "desk-topics-retrained-" * 5 + "v2"
    with editor_page() as page:
        page.set_viewport_size({"width": 320, "height": 640})
        open_editor(page, server)
        page.fill("#article", "An article about the economy.")
        problem = {"type": "about:blank", "title": "Service Unavailable", "status": 503,
                   "detail": f"cannot read {word}"}
        page.route("**/v1/classify", lambda route: route.fulfill(
            status=503, content_type="application/problem+json", body=json.dumps(problem)))
        page.click("#tag-button")
        expect(page.locator("#error")).to_contain_text(word)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        page.unroute("**/v1/classify")
        answer = {"topics": [], "taxonomy": "news", "language": "en",
                  "model": {"name": word, "kind": "embedding", "version": "1"},
                  "warnings": [{"code": "x", "message": f"The model {word} is old."}]}
        page.route("**/v1/classify", lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(answer)))
        page.click("#tag-button")
        expect(page.locator("#warnings")).to_contain_text(word)
        expect(page.locator("#model-line")).to_contain_text(word)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320


def test_the_pressed_topic_and_its_evidence_show_in_forced_colours(server, seed_text):
    """Session 43's a11y audit: in forced colours (Windows contrast themes, for low vision) the
    box-shadows that mark the pressed topic and ring its evidence are dropped, so the topic
    looked like the others and its evidence differed by a 2px underline from 1px."""
    with editor_page() as page:
        page.emulate_media(forced_colors="active")
        open_editor(page, server)
        tag_article(page, seed_text)
        label = page.locator("#article-view mark").first.evaluate("m => JSON.parse(m.dataset.topics)[0]")
        page.click(f'#topics li[data-label="{label}"] .topic-name')
        page.locator("#add-topic").focus()  # the focus ring is not what marks it
        frame = ("s => { const c = getComputedStyle(document.querySelector(s)); "
                 "return [c.borderLeftWidth, c.outlineStyle]; }")
        pressed = page.evaluate(frame, f'#topics li[data-label="{label}"] .topic-name')
        other = page.evaluate(frame, f'#topics li:not([data-label="{label}"]) .topic-name')
        assert pressed != other, (pressed, other)
        assert page.evaluate(frame, "#article-view mark.active")[1] == "solid"
        assert page.evaluate(frame, "#article-view mark:not(.active)")[1] == "none"


# Contrast ratios (WCAG 2) from computed colours, in the page.
CONTRAST_JS = """() => {
  const rgb = (c) => { const h = c.match(/^#(..)(..)(..)$/);
    return h ? h.slice(1).map((x) => parseInt(x, 16)) : c.match(/[\\d.]+/g).slice(0, 3).map(Number); };
  const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  window.contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05); };
  window.style = (selector) => getComputedStyle(document.querySelector(selector));
  window.shadowColour = (shadow) => (shadow.match(/rgba?\\([^)]*\\)/) || ["rgb(255, 255, 255)"])[0];
  window.opacity = (selector) => { let o = 1;
    for (let e = document.querySelector(selector); e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o; };
}"""


def test_typed_labels_split_and_fold_as_the_api_and_the_command_line_do(server):
    """Chinese, Japanese and Arabic separate labels with their own commas, which `newstag tag
    --labels` splits on ("经济，体育" was one label here), and the API takes "İqtisadiyyat" and
    "iqtisadiyyat" as one label (the page sent both, for a 422)."""
    with editor_page() as page:
        page.goto(server)
        page.fill("#labels", "经济，体育、政治, اقتصاد، رياضة, İqtisadiyyat, iqtisadiyyat, ISTANBUL, ıstanbul, "
                             "спорт, спорт\u200b")
        assert page.evaluate("typedLabels()") == ["经济", "体育", "政治", "اقتصاد", "رياضة", "İqtisadiyyat",
                                                  "ISTANBUL", "ıstanbul", "спорт"]


# "The ministry of defence said that demining teams cleared three thousand hectares of farmland.
# The minister added that the work will go on until the end of the year. Wheat prices rose in
# the local markets."
ARABIC_DEMINING = ("قالت وزارة الدفاع إن فرق إزالة الألغام طهرت ثلاثة آلاف هكتار من الأراضي الزراعية. "
                   "وأضاف الوزير أن العمل سيستمر حتى نهاية العام. وارتفعت أسعار القمح في الأسواق المحلية.")
# Each highlight's words for a screen reader, and the article's text as a selection gives it.
PREFIXES_JS = "() => [...document.querySelectorAll('#article-view mark')].map(m => m.firstChild.textContent)"
SELECT_JS = """(selector) => { const range = document.createRange();
  range.selectNodeContents(document.querySelector(selector));
  getSelection().removeAllRanges(); getSelection().addRange(range); return getSelection().toString(); }"""


def test_a_screen_reader_hears_which_topics_each_highlight_is_evidence_for(server, seed_text):
    """Session 43's a11y audit: a screen reader heard each evidence highlight as "mark" alone,
    not which topic it is evidence for (only its title said so, on hover), nor which are the
    pressed topic's. Each highlight starts with visually hidden words, "evidence for demining:",
    "(selected topic)" after the pressed one; unseen, and out of what is selected or copied."""
    with editor_page() as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
        feedback: list[dict] = []
        page.on("request", lambda r: feedback.append(r.post_data_json) if r.url.endswith("/v1/feedback") else None)
        open_editor(page, server)
        page.fill("#article", seed_text)
        with page.expect_response("**/v1/classify") as response:
            page.click("#tag-button")
        answer = response.value.json()
        expect(page.locator("#status")).to_contain_text("topics found")

        # Each highlight names the topics whose evidence it is, as the API found them, none pressed yet.
        marks = page.locator("#article-view mark")
        shown = marks.evaluate_all("ms => ms.map(m => [m.firstChild.textContent, m.lastChild.textContent])")
        assert len(shown) > 1 and any(", " in prefix for prefix, _ in shown), shown  # one with two topics
        for prefix, sentence in shown:
            topics = [t["label"] for t in answer["topics"] if any(sentence in ev["text"] for ev in t["evidence"])]
            assert prefix == f"evidence for {', '.join(topics)}: ", (prefix, sentence)
        # In English, the page's language (the article's may be another), and heard in the text.
        assert marks.evaluate_all("ms => ms.every(m => m.firstChild.lang === 'en')")
        assert '- mark: "evidence for demining: Jeyhun Bayramov' in page.locator("#article-view").aria_snapshot()

        # Unseen: clipped to a pixel (not display: none, which a screen reader would skip too).
        for prefix in page.locator("#article-view .evidence-for").all():
            box = prefix.bounding_box()
            assert box is not None and box["width"] <= 1 and box["height"] <= 1, box
            assert prefix.evaluate("p => getComputedStyle(p).clipPath") == "inset(50%)"

        # Pressed: its highlights say so, and the words move with the next topic pressed.
        def selected() -> list[str]:
            return [p for p in page.evaluate(PREFIXES_JS) if "(selected topic)" in p]

        assert selected() == []
        page.click('#topics li[data-label="demining"] .topic-name')
        assert selected() == ["evidence for demining (selected topic): "] * page.locator("mark.active").count()
        page.click('#topics li[data-label="economy"] .topic-name')
        assert selected() and all(p == "evidence for economy (selected topic): " for p in selected()), selected()
        expect(page.locator("#article-view mark.active")).to_have_count(len(selected()))
        assert "evidence for demining: " in page.evaluate(PREFIXES_JS)

        # Selecting or copying a highlighted sentence, or the whole article, gives the article's text alone.
        sentence = page.locator("#article-view mark.active").first.evaluate("m => m.lastChild.textContent")
        assert page.evaluate(SELECT_JS, "#article-view mark.active") == sentence
        page.keyboard.press("Control+c")
        assert page.evaluate("navigator.clipboard.readText()") == sentence
        assert page.evaluate(SELECT_JS, "#article-view") == seed_text
        page.keyboard.press("Control+c")
        assert page.evaluate("navigator.clipboard.readText()") == seed_text
        # A correction sends the article as tagged and the labels, nothing from the view.
        page.click("#send-button")
        expect(page.locator("#feedback-status")).to_contain_text("Correction saved")
        assert feedback[-1]["text"] == seed_text and "evidence for" not in json.dumps(feedback[-1]), feedback[-1]

        # Tagged again: no topic is pressed, and no highlight says it is.
        page.click("#tag-button")
        expect(page.locator("#feedback-status")).to_have_text("")
        assert selected() == []

        # A right-to-left article: the English words are isolated (dir="ltr") and the Arabic
        # reads as it did, pixel for pixel; the selection is the article's text.
        start, end = ARABIC_DEMINING.index("فرق"), ARABIC_DEMINING.index(".") + 1
        later = ARABIC_DEMINING.index("وارتفعت")
        evidence = [{"start": start, "end": end, "text": ARABIC_DEMINING[start:end]}]
        stub = {"taxonomy": "news", "language": "ar", "warnings": [],
                "model": {"name": "all-MiniLM-L6-v2", "kind": "embedding", "version": "1"},
                "topics": [{"label": "demining", "code": None, "score": 0.8, "evidence": evidence},
                           {"label": "economy", "code": None, "score": 0.4, "evidence": [
                               *evidence, {"start": later, "end": len(ARABIC_DEMINING),
                                           "text": ARABIC_DEMINING[later:]}]}]}
        page.route("**/v1/classify", lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(stub)))
        page.fill("#article", ARABIC_DEMINING)
        page.click("#tag-button")
        expect(page.locator("#article-view")).to_have_attribute("lang", "ar")
        page.click('#topics li[data-label="demining"] .topic-name')
        assert page.evaluate(PREFIXES_JS) == ["evidence for demining (selected topic), economy: ",
                                              "evidence for economy: "]
        assert marks.evaluate_all("ms => ms.every(m => m.firstChild.dir === 'ltr' && m.firstChild.lang === 'en')")
        assert page.evaluate(SELECT_JS, "#article-view") == ARABIC_DEMINING
        page.evaluate("getSelection().removeAllRanges()")
        view = page.locator("#article-view")
        with_words = view.screenshot(animations="disabled")
        page.evaluate("document.querySelectorAll('#article-view .evidence-for').forEach((p) => p.remove())")
        assert view.screenshot(animations="disabled") == with_words


def accessible_marks(page) -> list[dict]:
    """Each evidence highlight as Chromium's accessibility tree exposes it: its text and description."""
    cdp = page.context.new_cdp_session(page)
    nodes = {n["nodeId"]: n for n in cdp.send("Accessibility.getFullAXTree")["nodes"]}

    def text(node: dict) -> str:  # the text nodes' names (their spaces at the ends trimmed)
        if node.get("role", {}).get("value") == "StaticText":
            return node.get("name", {}).get("value", "")
        return "".join(text(nodes[c]) for c in node.get("childIds", []) if c in nodes)

    return [{"text": text(n), "description": n.get("description", {}).get("value", "")}
            for n in nodes.values() if n.get("role", {}).get("value") == "mark" and not n.get("ignored")]


def test_a_highlight_names_its_topics_once_and_shows_them_on_hover(server, seed_text):
    """Each highlight carried a title, "Evidence for demining", beside its words for screen
    readers: Chromium gave the title to the highlight as its description, so a screen reader
    that says descriptions heard the topics twice (session 43's audit, left so). The words
    alone name them now; hovered, they show as the mouse's tooltip, and Escape hides it."""
    with editor_page() as page:
        open_editor(page, server)
        tag_article(page, seed_text)
        page.click('#topics li[data-label="demining"] .topic-name')

        # Heard once: in the highlight's text, with no description repeating it.
        exposed = accessible_marks(page)
        assert exposed and len(exposed) == page.locator("#article-view mark").count(), exposed
        for mark in exposed:
            assert mark["text"].startswith("evidence for ") and mark["text"].count("evidence for") == 1, mark
            assert mark["description"] == "", mark
        assert any("demining (selected topic)" in m["text"].split(":")[0] for m in exposed), exposed

        # Hovered, the same words show above the highlight; Escape hides them, the pointer unmoved.
        mark = page.locator("#article-view mark.active").first
        words = mark.locator(".evidence-for")
        mark.scroll_into_view_if_needed()
        box = mark.evaluate("m => { const r = m.getClientRects()[0]; return {x: r.x, y: r.y, height: r.height}; }")
        page.mouse.move(box["x"] + 5, box["y"] + box["height"] / 2)  # on its first line
        shown = words.bounding_box()
        assert shown is not None and shown["width"] > 50 and shown["height"] > 8, shown
        assert shown["y"] + shown["height"] <= box["y"] + 1, (shown, box)  # above, not over the sentence
        colours = words.evaluate("w => [getComputedStyle(w).color, getComputedStyle(w).backgroundColor]")
        page.evaluate(CONTRAST_JS)
        assert page.evaluate("([a, b]) => contrast(a, b)", colours) >= 4.5, colours
        assert "demining (selected topic)" in words.text_content()
        page.keyboard.press("Escape")
        assert words.bounding_box()["width"] <= 1
        # Hovered again after leaving, it shows again.
        page.mouse.move(5, 5)
        page.mouse.move(box["x"] + 5, box["y"] + box["height"] / 2)
        assert words.bounding_box()["width"] > 50
        # Nothing about it changed what is heard.
        assert accessible_marks(page) == exposed

        # On a phone, a highlight that starts late in a line keeps its tooltip inside the window.
        page.set_viewport_size({"width": 320, "height": 640})
        mark.scroll_into_view_if_needed()
        box = mark.evaluate("m => { const r = m.getClientRects()[0]; return {x: r.x, y: r.y, height: r.height}; }")
        page.mouse.move(box["x"] + 5, box["y"] + box["height"] / 2)
        shown = words.bounding_box()
        assert shown is not None and shown["width"] > 50 and shown["x"] + shown["width"] <= 320, shown
        assert page.evaluate("document.documentElement.scrollWidth") == 320


@pytest.fixture()
def loading_server(tagger, tmp_path, monkeypatch):
    """The service as it starts: GET /v1/models answers {"models": [], "loading": true} until the
    test loads the model (what the loader thread does), as /readyz answers 503 meanwhile."""
    monkeypatch.setattr("service.http.runtime.TaggerRuntime.start_loading", lambda self: None)
    app = create_app({"TAGGER": tagger, "database_url": f"sqlite:///{tmp_path}/feedback.db"})
    with serving(app) as url:
        yield url, app.extensions["newstag.runtime"]


def test_the_page_says_the_model_is_loading_and_lists_it_once_loaded(loading_server):
    """While the service loaded its default model (EmbeddingGemma takes a minute), the page read
    /v1/models' empty list and offered "the default model" with nothing said: it read as no model
    at all. It says the model is loading now, asks again less and less often, and fills the list."""
    url, runtime = loading_server
    with editor_page() as page:
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/v1/models") else None)
        page.goto(f"{url}/")
        expect(page.locator("#status")).to_contain_text("The service is still loading its model")
        expect(page.locator("#model option")).to_have_text(["the default model (still loading…)"])
        page.wait_for_timeout(3500)  # (not time.sleep: Playwright delivers the page's events meanwhile)
        assert 2 <= len(asked) <= 3, asked  # at 0, 1 and 3 s: not every moment
        runtime.load()
        expect(page.locator("#status")).to_have_text(
            "The service has loaded its model (all-MiniLM-L6-v2): the list of models is ready.", timeout=20_000)
        expect(page.locator("#model option").first).to_have_text("the default: all-MiniLM-L6-v2")
        count = len(asked)
        page.wait_for_timeout(2000)
        assert len(asked) == count  # it stopped asking


# Each GET /v1/models the page sends, at the page's (fake) time, and how many answers the page
# has read (its json(): what it does next, scheduling its next listing, follows in the same turn).
MODELS_CALLS_JS = """() => { window.modelsCalls = []; window.modelsDone = 0; const fetched = window.fetch;
  window.fetch = (path, ...rest) => {
    if (!String(path).endsWith('/v1/models')) return fetched(path, ...rest);
    modelsCalls.push(Date.now());
    const counted = () => { window.modelsDone += 1; };
    return fetched(path, ...rest).then((response) => {
      const json = response.json.bind(response);
      response.json = () => json().finally(counted);
      return response;
    }, (error) => { counted(); throw error; }); }; }"""
LOADING = json.dumps({"models": [], "errors": {}, "loading": True})


def open_while_loading(page, server, answer) -> None:
    """Open the editor on a fake clock, counting its listings, each answered by ``answer(route)``;
    the first answer says the model is loading."""
    page.clock.install()
    page.add_init_script(f"({MODELS_CALLS_JS})()")
    page.route("**/v1/models", answer)
    open_editor(page, server)
    expect(page.locator("#status")).to_contain_text("still loading its model")


def run_clock(page, seconds: int) -> None:
    """Advance the page's clock a second at a time, each answer received before the next."""
    for _ in range(seconds):
        calls = page.evaluate("modelsCalls.length")
        page.clock.run_for(1000)
        if page.evaluate("modelsCalls.length") != calls:  # its answer read, on the real clock (on a loaded
            page.wait_for_function("() => modelsDone === modelsCalls.length", timeout=15_000)  # machine, over 100 ms)


def test_the_wait_for_the_model_is_bounded_and_a_failed_listing_says_so(server):
    """The wait for a loading model backs off (1, 2, 4, 8, then 15 s between requests) and gives
    up after 5 minutes, saying so; a listing that fails meanwhile (a 503) says so and stops."""
    with editor_page() as page:
        open_while_loading(page, server, lambda route: route.fulfill(status=200, content_type="application/json",
                                                                    body=LOADING))
        run_clock(page, 330)
        expect(page.locator("#status")).to_have_text(
            "The service is still loading its model after 5 minutes: the page stopped asking. /readyz or the "
            "service's log says why; reload the page to ask again.")
        calls = page.evaluate("modelsCalls")
        gaps = [round((b - a) / 1000) for a, b in zip(calls, calls[1:], strict=False)]
        assert gaps[:5] == [1, 2, 4, 8, 15] and set(gaps[4:]) == {15}, gaps
        assert (calls[-1] - calls[0]) / 1000 <= 300 and len(calls) <= 25, gaps
        run_clock(page, 60)
        assert page.evaluate("modelsCalls.length") == len(calls)  # no more

        # Loading, then a 503: said, with the problem's detail, and no more requests.
        answers = [(200, "application/json", LOADING)]
        failed = (503, "application/problem+json",
                  '{"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "overloaded"}')

        def answer(route) -> None:
            status, content_type, body = answers.pop(0) if answers else failed
            route.fulfill(status=status, content_type=content_type, body=body)

        page.unroute("**/v1/models")
        page.route("**/v1/models", answer)
        open_editor(page, server)
        expect(page.locator("#status")).to_contain_text("still loading its model")
        run_clock(page, 5)
        expect(page.locator("#status")).to_have_text(
            "Could not list the models: Service Unavailable: overloaded. The default model is offered.")
        expect(page.locator("#model option")).to_have_text(["the default model"])
        run_clock(page, 60)
        assert page.evaluate("modelsCalls.length") == 2


def test_a_model_that_failed_to_load_is_said_and_not_waited_for(server):
    """GET /v1/models said "loading" for ever for a default model that had failed to load (outside
    gunicorn, which stops then): the page waited 5 minutes to say /readyz knows why. It names
    the failure at the first listing that carries it, and asks no more."""
    failed = json.dumps({"models": [], "errors": {"(default model)": "cannot load the model in /models/x: bad"},
                         "loading": False})
    with editor_page() as page:
        answers = [LOADING]
        open_while_loading(page, server, lambda route: route.fulfill(
            status=200, content_type="application/json", body=answers.pop(0) if answers else failed))
        run_clock(page, 5)
        expect(page.locator("#status")).to_have_text(
            "The service's model failed to load, so tagging cannot work until it is fixed (the service's log "
            "says more): cannot load the model in /models/x: bad")
        run_clock(page, 60)
        assert page.evaluate("modelsCalls.length") == 2


def test_a_worker_still_loading_does_not_empty_the_model_list_after_a_tag(server, seed_text):
    """With several workers, one that has loaded its model tags while another, still loading,
    answers the listing read after the tag: its empty list replaced the models listed (and the
    one chosen). The listing as it was stays."""
    with editor_page() as page:
        open_editor(page, server)
        expect(page.locator("#model option").first).to_have_text("the default: all-MiniLM-L6-v2")
        page.route("**/v1/models", lambda route: route.fulfill(status=200, content_type="application/json",
                                                               body=LOADING))
        with page.expect_response("**/v1/models"):
            tag_article(page, seed_text)
        expect(page.locator("#status")).to_contain_text("topics found")
        expect(page.locator("#model option").first).to_have_text("the default: all-MiniLM-L6-v2")
