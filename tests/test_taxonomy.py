from __future__ import annotations

import os
import re
import textwrap
import threading
import time

import pytest

from service.engine import TaxonomyFileError, TaxonomyRegistry, UnknownTaxonomyError
from service.engine.taxonomy import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, load_taxonomy_file
from service.engine.validation import MAX_KEYWORDS
from service.http.schemas import ClassifyOptions, LabelObject


@pytest.fixture(scope="module")
def registry():
    return TaxonomyRegistry()


def test_news_is_a_rich_taxonomy_with_the_mission_topics(registry):
    news = registry.get("news")
    names = {label.name for label in news.labels}
    assert len(news.labels) >= 25
    assert {"bilateral relations", "COP29", "demining", "economy"} <= names
    assert all(label.description for label in news.labels)
    by_name = {label.name: label for label in news.labels}
    assert by_name["COP29"].parent == "climate change"
    codes = [label.code for label in news.labels if label.code]
    assert all(re.fullmatch(r"medtop:\d{8}", c) for c in codes)
    assert len(set(codes)) == len(codes)
    # IPTC has a concept for every topic but the climate conference (news.yaml's header)
    assert {label.name for label in news.labels if not label.code} == {"COP29"}


def test_iptc_top_has_the_17_top_level_media_topics(registry):
    iptc = registry.get("iptc-top")
    assert len(iptc.labels) == 17
    assert all(re.fullmatch(r"medtop:\d{2}000000", label.code or "") for label in iptc.labels)
    assert {label.name for label in iptc.labels} >= {"sport", "politics", "economy, business and finance"}


def test_both_built_in_taxonomies_give_news_its_best_topic(registry):
    """Both mean to cover every news article (docs/scoring.md, step 8; measured in docs/benchmarks.md)."""
    assert registry.get("news").at_least_one_topic and registry.get("iptc-top").at_least_one_topic


def test_unknown_taxonomy_names_the_known_ones(registry):
    with pytest.raises(UnknownTaxonomyError, match="known: iptc-top, news"):
        registry.get("nope")


def _refusal(tmp_path, body: str) -> str:
    """The error a taxonomy file with this body is refused with (it must be refused)."""
    path = tmp_path / "broken.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(TaxonomyFileError) as info:
        load_taxonomy_file(path)
    return str(info.value)


@pytest.mark.parametrize("body, expected", [
    ("name: t\ntopics: []\n", r"topics: List should have at least 1 item"),
    ("name: t\ntopics:\n  - name: a\n    colour: red\n", r'topics\[0\] \("a"\)\.colour: Extra inputs'),
    ("name: t\ntopics:\n  - name: a\n  - name: b\n    threshold: 2\n", r'topics\[1\] \("b"\)\.threshold'),
    ("name: t\ntopics:\n  - description: no name\n", r"topics\[0\]\.name: Field required"),
    ("name: t\ntopics:\n  - name: a\n  - name: A\n", r'topics\[1\] \("A"\): duplicate topic name'),
    # "économie" composed (NFC) and decomposed (NFD): one label to requests and corrections (label_key).
    ("name: t\ntopics:\n  - name: \u00e9conomie\n  - name: sport\n  - name: e\u0301conomie\n",
     r'topics\[2\] \("e\u0301conomie"\): duplicate topic name \(topics\[0\] is the same name'),
    ("name: t\ntopics:\n  - name: a\n    keywords: ['']\n", r'topics\[0\] \("a"\)\.keywords'),
    # One line with the file's line and column (PyYAML's own message took five, at "<unicode string>").
    ("name: t\ntopics: [\n", r"cannot read taxonomy: line 3, column 1: expected the node content.*\)$"),
    # Answered in every result and the feedback export: no control characters, no passage-long keywords.
    ("name: t\ntopics:\n  - name: a\n    code: \"a\\nb\"\n",
     r'topics\[0\] \("a"\)\.code: .*control characters \(U\+000A\)'),
    ("name: t\ntopics:\n  - name: a\n    parent: \"\\0\"\n", r'\.parent: .*control characters \(U\+0000\)'),
    ("name: t\ntopics:\n  - name: a\n    code: " + "x" * 201 + "\n", r'\.code: String should have at most 200'),
    ("name: t\ntopics:\n  - name: a\n    keywords: [" + "x" * 201 + "]\n",
     r'\.keywords: .*a keyword has 201 characters; at most 200'),
    ("name: t\ntopics:\n  - name: \"\\u200b\"\n", r"topics\[0\].*must not be empty or only whitespace or invisible"),
    # YAML 1.1 reads on as true and 20000593 as a number: say so, not 'topics[0] ("True").name'.
    ("name: t\ntopics:\n  - name: on\n", r"topics\[0\]\.name: YAML read this value as a boolean .*put it in quotes"),
    ("name: t\ntopics:\n  - name: a\n    code: 20000593\n",
     r'topics\[0\] \("a"\)\.code: YAML read this value as a number: put it in quotes'),
    ("- just a list\n", r"must be a mapping"),
    ("name: 'bad name!'\ntopics:\n  - name: a\n", r"name: String should match pattern"),
    ("name: t\ntopics:\n  - name: a\n    threshold: true\n",  # not 1.0
     r'topics\[0\] \("a"\)\.threshold: Input should be a valid number'),
    ("name: t\nsentence_topics: 'yes'\ntopics:\n  - name: a\n", r"sentence_topics: Input should be a valid boolean"),
    ("name: t\ntopics:\n  - name: '   '\n  - name: b\n",
     r"topics\[0\] \(\"   \"\)\.name: Value error, a topic name must not be empty"),
    # What authors write most: a tab to indent, and a colon in an unquoted value. PyYAML's own words
    # ("found character '\t' that cannot start any token", "mapping values are not allowed here")
    # did not say what to change.
    ("name: t\ntopics:\n\t- name: a\n",
     r"line 3, column 1: found character '\\t' that cannot start any token .*: YAML indents with spaces, not tabs$"),
    ("name: t\ntopics:\n  - name: a\n    description: Decisions of the council: votes and debates.\n",
     r"line 4, column 42: mapping values are not allowed here: a value with a colon and a space in it "
     r"\(Note: \.\.\.\) must be put in quotes$"),
    ("name: t\ntopics:\n  - name: a\n    keywords: city council, councillors\n",  # a list written as a line
     r'topics\[0\] \("a"\)\.keywords: YAML read this value as one text, not a list: write it \[a, b\] '
     r'or one "- a" line each$'),
    ("name: t\ntopics:\n  - name: a\n    keywords: [Note: roads]\n",
     r'topics\[0\] \("a"\)\.keywords\.0: YAML read this value as a mapping \(a colon and a space in it\): '
     r'put it in quotes'),
])
def test_malformed_files_name_the_file_and_the_entry(tmp_path, body, expected):
    message = _refusal(tmp_path, body)
    assert message.startswith(str(tmp_path / "broken.yaml"))
    assert re.search(expected, message), message
    assert "\n" not in message  # start-up refuses it with one line


def test_every_mistake_of_a_file_is_named_at_once(tmp_path):
    """Only the first was named: a desk with a typo in three of its 20 topics restarted the server
    three times to learn of them."""
    message = _refusal(tmp_path, "name: t\ntopic:\n  - name: a\n    desciption: x\n")
    assert message.endswith("broken.yaml: topics: Field required; topic: Extra inputs are not permitted"), message
    body = "name: t\ntopics:\n" + "".join(f"  - name: t{i}\n    treshold: 0.6\n" for i in range(13))
    message = _refusal(tmp_path, body)
    assert message.count("Extra inputs are not permitted") == 10 and message.endswith("; and 3 more"), message
    assert 'topics[0] ("t0").treshold' in message and 'topics[9] ("t9").treshold' in message
    assert "\n" not in message


@pytest.mark.parametrize("body, expected", [
    # A second block replaced the first: every topic above it was dropped without a word.
    ("name: t\ntopics:\n  - name: a\ntopics:\n  - name: b\n",
     r"broken.yaml: line 4: duplicate key 'topics' \(first on line 2\): YAML would keep only the last$"),
    ("name: t\ntopics:\n  - name: a\n    keywords: [city council]\n    keywords: [councillors]\n",
     r"broken.yaml: line 5: duplicate key 'keywords' \(first on line 4\)"),
    ("name: t\ntopics:\n  - {name: a, name: b}\n", r"broken.yaml: line 3: duplicate key 'name' \(first on line 3\)"),
])
def test_a_key_given_twice_is_refused_with_its_line(tmp_path, body, expected):
    message = _refusal(tmp_path, body)
    assert re.search(expected, message), message


def test_the_file_limits_are_the_api_limits():
    """A taxonomy's names go back to the API in requests and corrections: a file must not hold more."""
    assert ClassifyOptions.model_json_schema()["properties"]["taxonomy"]["anyOf"][0]["maxLength"] == MAX_NAME_CHARS
    label = LabelObject.model_json_schema()["properties"]
    assert label["name"]["maxLength"] == MAX_NAME_CHARS
    assert label["description"]["maxLength"] == MAX_DESCRIPTION_CHARS


@pytest.mark.parametrize("body, expected", [
    (f"name: {'t' * 201}\ntopics:\n  - name: a\n", r"^\S*broken.yaml: name: String should have at most 200 char"),
    (f"name: t\ntopics:\n  - name: a\n    description: {'d' * 2001}\n",
     r'topics\[0\] \("a"\)\.description: String should have at most 2000 char'),
    (f"name: t\ntopics:\n  - name: a\n    keywords: [{', '.join(f'k{i}' for i in range(MAX_KEYWORDS + 1))}]\n",
     r'topics\[0\] \("a"\)\.keywords: List should have at most 1000 items'),
])
def test_what_a_request_could_not_carry_is_refused(tmp_path, body, expected):
    message = _refusal(tmp_path, body)
    assert re.search(expected, message), message


@pytest.mark.parametrize("escaped, shown, code", [
    (r"a\0b", r"a\u0000b", "U+0000"),  # /v1/feedback refuses a NUL: no correction could name the topic
    (r"city\tcouncil", r"city\u0009council", "U+0009"),
    (r"city\ncouncil", r"city\u000acouncil", "U+000A"),
    (r"a\x7f", r"a\u007f", "U+007F"),
])
def test_a_topic_name_with_a_control_character_is_refused_on_one_printable_line(tmp_path, escaped, shown, code):
    message = _refusal(tmp_path, f'name: t\ntopics:\n  - name: "{escaped}"\n')
    assert f'topics[0] ("{shown}").name: Value error, a topic name must not contain control characters ({code})' \
        in message, message
    assert message.isprintable()


def test_a_lone_surrogate_in_a_topic_name_is_shown_escaped(tmp_path):
    message = _refusal(tmp_path, 'name: t\ntopics:\n  - name: "a\\ud800b"\n')
    assert 'topics[0] ("a\\ud800b").name: Input should be a valid string' in message
    message.encode("utf-8")  # a log file or a UTF-8 terminal can take it


def test_an_invisible_character_in_a_topic_name_is_shown_escaped(tmp_path):
    """A zero-width space showed as nothing: '("")' for a name of one, and two names that looked the same."""
    message = _refusal(tmp_path, 'name: t\ntopics:\n  - name: "\\u200b"\n')
    assert 'topics[0] ("\\u200b").name: Value error' in message, message
    message = _refusal(tmp_path, 'name: t\ntopics:\n  - name: "спорт"\n  - name: "спорт\\u200b"\n')
    assert 'topics[1] ("спорт\\u200b"): duplicate topic name' in message, message


def test_names_descriptions_and_keywords_at_the_limits_load(tmp_path):
    path = tmp_path / "t.yaml"
    keywords = ", ".join(f"k{i}" for i in range(MAX_KEYWORDS))
    path.write_text(f"name: {'t' * 200}\ntopics:\n  - name: {'a' * 200}\n    description: {'d' * 2000}\n"
                    f"    keywords: [{keywords}]\n", encoding="utf-8")
    label = load_taxonomy_file(path).labels[0]
    assert len(label.name) == 200 and len(label.description) == 2000 and len(label.keywords) == MAX_KEYWORDS


@pytest.mark.parametrize("nested", ["[" * 3000 + "]" * 3000, "{a: " * 3000 + "1" + "}" * 3000])
def test_a_file_nested_too_deeply_is_refused_naming_it(tmp_path, nested):
    path = tmp_path / "deep.yaml"
    path.write_text(f"name: t\ntopics: {nested}\n", encoding="utf-8")
    with pytest.raises(TaxonomyFileError, match=r"deep.yaml: cannot read taxonomy: nested too deeply$"):
        load_taxonomy_file(path)


def test_a_merge_key_and_aliases_are_no_duplicates(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: t\ntopics:\n  - &a {name: a, description: shared, keywords: [x]}\n"
                    "  - <<: *a\n    name: b\n    keywords: [y]\n")
    labels = load_taxonomy_file(path).labels
    assert [(lab.name, lab.description, lab.keywords) for lab in labels] == [("a", "shared", ("x",)),
                                                                            ("b", "shared", ("y",))]


def test_user_directory_adds_taxonomies_and_a_broken_one_stops_loading(tmp_path):
    (tmp_path / "desk.yaml").write_text(textwrap.dedent("""\
        name: desk
        threshold: 0.4
        topics:
          - name: local politics
            description: City council decisions.
            keywords: [city council]
            threshold: 0.7
        """))
    registry = TaxonomyRegistry([tmp_path])
    desk = registry.get("desk")
    assert desk.threshold == 0.4
    assert desk.labels[0].keywords == ("city council",) and desk.labels[0].threshold == 0.7
    assert not desk.at_least_one_topic and not desk.sentence_topics  # off unless a taxonomy asks
    assert "news" in registry.names()

    (tmp_path / "zz-broken.yaml").write_text("name: x\ntopics: 3\n")
    with pytest.raises(TaxonomyFileError, match="zz-broken.yaml"):
        TaxonomyRegistry([tmp_path])


def test_a_fifo_or_a_directory_named_yaml_is_refused_not_opened(tmp_path):
    (tmp_path / "desk.yaml").write_text("name: desk\ntopics:\n  - name: one\n")
    fifo = tmp_path / "x.yaml"
    os.mkfifo(fifo)
    finished = threading.Event()

    def unblock() -> None:  # without the check, opening the FIFO waits for a writer: be that writer once
        if not finished.wait(5):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    threading.Thread(target=unblock, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(TaxonomyFileError) as info:
            TaxonomyRegistry([tmp_path])
    finally:
        finished.set()
    assert str(info.value) == (f"{fifo}: is a named pipe (FIFO), not a regular file: only regular files "
                               "(or symlinks to them) are read")
    assert time.monotonic() - started < 5

    fifo.unlink()
    (tmp_path / "x.yaml").mkdir()
    with pytest.raises(TaxonomyFileError, match=r"x.yaml: is a directory, not a regular file"):
        TaxonomyRegistry([tmp_path])


def test_a_taxonomy_directory_that_cannot_be_listed_is_one_clear_error(tmp_path, monkeypatch):
    """iterdir() on a directory the service's user cannot read let a PermissionError out of
    start-up as a traceback. (Tests run as root: the error is simulated.)"""
    from pathlib import Path

    real_iterdir = Path.iterdir

    def iterdir(self):
        if self == tmp_path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(TaxonomyFileError, match="cannot read the taxonomy directory .Permission denied."):
        TaxonomyRegistry.load(tmp_path)


def test_hidden_files_are_skipped(tmp_path, caplog):
    (tmp_path / "desk.yaml").write_text("name: desk\ntopics:\n  - name: one\n")
    (tmp_path / "._desk.yaml").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")  # AppleDouble
    (tmp_path / ".#desk.yaml").symlink_to("editor@host.4242:1764950000")  # emacs's lock: a dangling link
    (tmp_path / ".old.yml").write_text("name: desk\ntopics:\n  - name: two\n")  # would clash with desk.yaml
    with caplog.at_level("INFO", logger="newstag.taxonomy"):
        registry = TaxonomyRegistry([tmp_path])
    assert [label.name for label in registry.get("desk").labels] == ["one"]
    assert sum("a hidden file is no taxonomy" in r.getMessage() for r in caplog.records) == 3


def test_a_configmap_mount_loads_through_its_links(tmp_path):
    """Kubernetes mounts a ConfigMap as links into a hidden, timestamped directory."""
    data = tmp_path / "..2026_12_05_19_00_00.123456"
    data.mkdir()
    (data / "desk.yaml").write_text("name: desk\ntopics:\n  - name: one\n")
    (tmp_path / "..data").symlink_to(data.name)
    (tmp_path / "desk.yaml").symlink_to("..data/desk.yaml")
    assert [label.name for label in TaxonomyRegistry([tmp_path]).get("desk").labels] == ["one"]


def test_missing_user_directory_is_an_error(tmp_path):
    with pytest.raises(TaxonomyFileError, match="does not exist"):
        TaxonomyRegistry([tmp_path / "absent"])


def test_two_files_of_one_name_are_an_error_and_any_case_of_yaml_is_read(tmp_path):
    (tmp_path / "a.yaml").write_text("name: desk\ntopics:\n  - name: one\n")
    (tmp_path / "UPPER.YML").write_text("name: other\ntopics:\n  - name: two\n")
    assert {"desk", "other"} <= set(TaxonomyRegistry([tmp_path]).names())
    (tmp_path / "b.yaml").write_text("name: desk\ntopics:\n  - name: three\n")
    with pytest.raises(TaxonomyFileError, match="b.yaml: taxonomy 'desk' is named in .*a.yaml too"):
        TaxonomyRegistry([tmp_path])
    # "Desk" beside "desk" (a request's typo picked the other), "News" beside the built-in "news".
    (tmp_path / "b.yaml").write_text("name: Desk\ntopics:\n  - name: three\n")
    with pytest.raises(TaxonomyFileError, match=r"b.yaml: taxonomy 'Desk' is named in .*a.yaml too \(in any case\)"):
        TaxonomyRegistry([tmp_path])
    (tmp_path / "b.yaml").write_text("name: News\ntopics:\n  - name: three\n")
    with pytest.raises(TaxonomyFileError, match="taxonomy 'News' differs from the built-in 'news' only in case"):
        TaxonomyRegistry([tmp_path])


def test_a_parent_that_is_nearly_a_topic_is_warned_of(tmp_path, caplog):
    """A parent that is no topic is a group (docs/taxonomies.md), so 'enviroment' for 'environment'
    was taken without a word: the topic lost its family (its broadness, its siblings) silently."""
    path = tmp_path / "desk.yaml"
    path.write_text("name: desk\ntopics:\n  - name: environment\n  - name: water\n    parent: enviroment\n"
                    "  - name: climate\n    parent: enviroment\n  - name: trade\n    parent: Economy and business\n"
                    "  - name: jobs\n    parent: economy and business\n  - name: air\n    parent: ENVIRONMENT\n")
    with caplog.at_level("WARNING", logger="newstag.taxonomy"):
        load_taxonomy_file(path)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [f"{path}: topics[1] (\"water\").parent 'enviroment' is no topic of the taxonomy, so it is "
                      "read as a group of its own: did you mean 'environment'?"], warned  # once, not for 'climate'


def test_one_parent_over_most_topics_is_warned_of_and_facets_of_one_subject_are_not(tmp_path, caplog):
    """Siblings never count against each other: one parent on every topic of a press office's 20
    left none a rival of another (42 wrong topics on 41 articles against 1, docs/taxonomies.md)."""
    wide = tmp_path / "office.yaml"
    wide.write_text("name: office\ntopics:\n" + "".join(f"  - name: topic {i}\n    parent: Press office\n"
                                                         for i in range(5)) + "  - name: roads\n")
    facets = tmp_path / "desk.yaml"
    facets.write_text("name: desk\ntopics:\n  - name: schools\n  - name: roads\n  - name: rail\n"
                      "  - name: buses\n    parent: transport\n  - name: trams\n    parent: transport\n"
                      "  - name: ferries\n    parent: transport\n  - name: cycling\n    parent: transport\n")
    with caplog.at_level("WARNING", logger="newstag.taxonomy"):
        load_taxonomy_file(facets)  # 4 of 7 topics under one parent: more than half
        load_taxonomy_file(wide)
        TaxonomyRegistry([])  # the built-in ones: news's largest group has 8 of its 39 topics
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [w.split(":")[0] for w in warned] == [str(facets), str(wide)], warned
    assert f"{wide}: 5 of its 6 topics have the parent 'Press office'" in warned[1]
    caplog.clear()
    facets.write_text(facets.read_text() + "  - name: housing\n")  # 4 of 8: half, not more
    with caplog.at_level("WARNING", logger="newstag.taxonomy"):
        load_taxonomy_file(facets)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_file_not_in_utf8_is_refused_with_its_line_and_what_to_do(tmp_path):
    """Windows editors save 'ANSI' (cp1252) or UTF-16: the refusal gave a byte offset ('position 42')
    and no hint; the line and column of the first byte that is not UTF-8, and what to do, now."""
    path = tmp_path / "desk.yaml"
    path.write_bytes("name: desk\ntopics:\n  - name: économie\n".encode("cp1252"))
    with pytest.raises(TaxonomyFileError) as info:
        load_taxonomy_file(path)
    assert str(info.value) == (f"{path}: cannot read taxonomy: not UTF-8 (byte 0xe9 at line 3, column 11): "
                               "save it as UTF-8"), str(info.value)
    path.write_text("name: desk\ntopics:\n  - name: a\n", encoding="utf-16")
    with pytest.raises(TaxonomyFileError, match=r"not UTF-8 \(byte 0xff at line 1, column 1\): save it as UTF-8$"):
        load_taxonomy_file(path)


def test_yields_to_names_other_topics_of_the_file_as_spelled(tmp_path):
    path = tmp_path / "desk.yaml"
    path.write_text("name: desk\ntopics:\n  - name: mining\n  - name: demining\n    yields_to: [mining]\n")
    assert [lab.yields_to for lab in load_taxonomy_file(path).labels] == [(), ("mining",)]
    path.write_text("name: desk\ntopics:\n  - name: COP29\n    keywords: [COP29]\n    ruled_out_by: [COP28, cop29]\n")
    with pytest.raises(TaxonomyFileError) as refused:
        load_taxonomy_file(path)
    assert str(refused.value) == (f"{path}: topics[0] (\"COP29\").ruled_out_by names 'cop29', one of its own "
                                  "keywords, so it could never rule the topic out: leave it in one list")
    path.write_text("name: desk\ntopics:\n  - name: COP29\n    ruled_out_by: [COP28, ' ']\n")
    with pytest.raises(TaxonomyFileError, match=r'topics\[0\] \("COP29"\)\.ruled_out_by: Value error, ruled_out_by '
                                                 r"must not be empty strings"):
        load_taxonomy_file(path)
    for rival, why in (("Mining", "no topic of the taxonomy (names are matched as spelled): did you mean 'mining'?"),
                       ("mines", "no topic of the taxonomy: name other topics of this file"),
                       ("demining", "itself: name other topics of this file")):
        path.write_text(f"name: desk\ntopics:\n  - name: mining\n  - name: demining\n    yields_to: [{rival}]\n")
        with pytest.raises(TaxonomyFileError) as refused:
            load_taxonomy_file(path)
        assert str(refused.value) == f"{path}: topics[1] (\"demining\").yields_to names '{rival}', {why}"


def test_a_topic_that_yields_is_left_out_only_where_its_rival_is_given_above_it(tiny_model_dir, tmp_path):
    """Mechanics on the tiny model, at a threshold of 0 (every topic given): each of two topics
    yields to the other in turn, so in each text one rule leaves a topic out and the other none."""
    from dataclasses import replace

    from service.config import Settings
    from service.engine import Tagger

    topics = "name: desk\ntopics:\n  - name: mining\n  - name: demining\n  - name: trade\n"
    rules = {"plain": topics, "demining yields": topics.replace("demining\n", "demining\n    yields_to: [mining]\n"),
             "mining yields": topics.replace("mining\n  - name: de", "mining\n    yields_to: [demining]\n  - name: de")}
    texts = [f"Article {i}: the mine, the trade and the field." * (i + 1) for i in range(6)]
    settings = Settings.from_env({}, model=tiny_model_dir)
    results = {}
    for name, body in rules.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "desk.yaml").write_text(body)
        tagger = Tagger.load(replace(settings, taxonomies_dir=tmp_path / name).engine_options())
        results[name] = tagger.tag(texts, taxonomy="desk", threshold=0.0)
    for plain, demining_yields, mining_yields in zip(*results.values(), strict=True):
        labels = [t.label for t in plain.topics]
        assert len(labels) == 3
        lower = "demining" if labels.index("demining") > labels.index("mining") else "mining"
        assert [t.label for t in demining_yields.topics] == [x for x in labels if not (lower == x == "demining")]
        assert [t.label for t in mining_yields.topics] == [x for x in labels if not (lower == x == "mining")]


def test_a_topic_is_ruled_out_by_a_phrase_only_where_none_of_its_keywords_is_named(tiny_model_dir, tmp_path):
    """Mechanics on the tiny model, at a threshold of 0 (every topic given)."""
    from dataclasses import replace

    from service.config import Settings
    from service.engine import Tagger

    (tmp_path / "desk.yaml").write_text("name: desk\ntopics:\n  - name: COP29\n    keywords: [COP29]\n"
                                        "    ruled_out_by: [COP28, COP 28]\n  - name: trade\n")
    settings = Settings.from_env({}, model=tiny_model_dir)
    tagger = Tagger.load(replace(settings, taxonomies_dir=tmp_path).engine_options())
    texts = ["Talks at cop28 ended.", "Talks at COP 28 ended.", "COP29 built on COP28.", "Talks ended.",
             "Talks at COP280 ended."]
    results = tagger.tag(texts, taxonomy="desk", threshold=0.0)
    assert [{t.label for t in r.topics} for r in results] == [{"trade"}, {"trade"}, {"COP29", "trade"},
                                                              {"COP29", "trade"}, {"COP29", "trade"}]
    # Single-label: the best topic no phrase rules out; the same as without the rule where none applies.
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "desk.yaml").write_text("name: desk\ntopics:\n  - name: COP29\n    keywords: [COP29]\n"
                                                  "  - name: trade\n")
    plain = Tagger.load(replace(settings, taxonomies_dir=tmp_path / "plain").engine_options())
    best = [r.topics[0].label for r in plain.tag(texts, taxonomy="desk", multi_label=False)]
    assert "COP29" in best[:2]  # so the rule has something to change
    singles = tagger.tag(texts, taxonomy="desk", multi_label=False)
    assert [[t.label for t in r.topics] for r in singles] == [["trade"], ["trade"], *[[b] for b in best[2:]]]


def test_a_yields_to_name_is_read_as_topic_names_are_and_a_near_miss_says_which_topic_was_meant(tmp_path):
    """A topic's name is stripped, so "transport " in yields_to named no topic, and "Transport" was
    refused without a word of the topic spelled otherwise; an empty name said it was no topic."""
    path = tmp_path / "desk.yaml"
    desk = "name: desk\ntopics:\n  - name: transport\n  - name: roadworks\n    yields_to: [{}]\n"
    path.write_text(desk.format("'transport '"))
    assert load_taxonomy_file(path).labels[1].yields_to == ("transport",)
    for rival, why in (("Transport", "no topic of the taxonomy (names are matched as spelled): did you mean "
                                     "'transport'?"),
                       ("Roadworks", "itself: name other topics of this file")):
        path.write_text(desk.format(rival))
        with pytest.raises(TaxonomyFileError) as refused:
            load_taxonomy_file(path)
        assert str(refused.value) == f"{path}: topics[1] (\"roadworks\").yields_to names '{rival}', {why}"
    path.write_text(desk.format("''"))
    with pytest.raises(TaxonomyFileError, match=r'topics\[1\] \("roadworks"\)\.yields_to: Value error, yields_to '
                                                 r"must not be empty strings"):
        load_taxonomy_file(path)


def test_a_ruled_out_by_phrase_that_holds_one_of_the_topics_keywords_is_refused(tmp_path):
    """A text that names "summer festival 2023" names the keyword "summer festival" too, which keeps the
    topic: such a phrase could never rule it out, as one equal to a keyword could not (nor one written in
    the other Unicode form, which keywords match)."""
    path = tmp_path / "desk.yaml"
    for keyword, phrase in (("summer festival", "Summer  Festival 2023"), ("f\u00eate", "F\u0065\u0302te")):
        path.write_text(f"name: desk\ntopics:\n  - name: festival\n    keywords: ['{keyword}']\n"
                        f"    ruled_out_by: [film festival, '{phrase}']\n")
        with pytest.raises(TaxonomyFileError) as refused:
            load_taxonomy_file(path)
        assert str(refused.value).startswith(f"{path}: topics[0] (\"festival\").ruled_out_by names {phrase!r}, "), \
            str(refused.value)
        assert "could never rule the topic out" in str(refused.value)
    path.write_text("name: desk\ntopics:\n  - name: festival\n    keywords: [summer festival]\n"
                    "    ruled_out_by: [film festival, summer, festival 2023]\n")
    assert load_taxonomy_file(path).labels[0].ruled_out_by == ("film festival", "summer", "festival 2023")


@pytest.mark.parametrize("value, said", [
    ("{mining}", "YAML read this value as a mapping, not a list: write it [a, b] (brackets, not braces) or one "
                 "\"- a\" line each"),
    ("", "YAML read this value as empty, not a list: write [] or leave the line out"),
])
def test_a_list_written_otherwise_says_how_to_write_it(tmp_path, value, said):
    """`yields_to: {mining}` (braces for brackets) and `yields_to:` with nothing after it said
    'Input should be a valid list', and not what to write."""
    path = tmp_path / "desk.yaml"
    for field in ("yields_to", "ruled_out_by", "keywords"):
        path.write_text(f"name: desk\ntopics:\n  - name: mining\n  - name: demining\n    {field}: {value}\n")
        with pytest.raises(TaxonomyFileError) as refused:
            load_taxonomy_file(path)
        assert str(refused.value) == f'{path}: topics[1] ("demining").{field}: {said}', str(refused.value)
