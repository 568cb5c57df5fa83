from __future__ import annotations

import json

import numpy as np
import pytest

from training.data import (
    DataFileError,
    Example,
    check_trainable,
    fingerprint,
    labels_never_trained,
    read_labeled,
    split_validation,
    texts_in_both,
)
from training.data_checks import data_warnings, repeated_rows
from training.thresholds import best_threshold, calibrate


def test_csv_with_pipe_separated_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,text,labels\n1,"Rates rose, markets fell.",economy|markets\n2,Goal!,sport\n')
    examples = read_labeled(path)
    assert [e.labels for e in examples] == [("economy", "markets"), ("sport",)]
    assert examples[0].text == "Rates rose, markets fell."


@pytest.mark.parametrize("name, body, message", [
    # A CMS export's extra column: what the file may have, and what to do (it said only "unknown column(s)").
    ("d.csv", "text,labels,colour\nx,a,red\n", r"d.csv:1: unknown column\(s\) colour: a labelled CSV has only "
     r"'text', 'labels' and optionally 'id' .*; remove it"),
    ("d.csv", "text\nx\n", r"d.csv:1: the header needs 'text' and 'labels'"),
    ("d.csv", "text,labels\nx,a\n,b\n", r"d.csv:3: 'text' must be"),
    ("d.csv", "text,labels\nx,a\ny,\n", r"d.csv:3: 'labels' must be"),
    ("d.csv", "text,labels\nx,a,extra\n", r"d.csv:2: more fields"),
    ("d.jsonl", '{"text": "x", "labels": ["a"]}\n\n{"labels": ["a"]}\n', r"d.jsonl:3: the row has no 'text' key"),
    ("d.jsonl", '{"text": " ", "labels": ["a"]}\n', r"d.jsonl:1: 'text' must be"),
    # Markup alone is no text as the service reads it: it trained as an empty article.
    ("d.jsonl", '{"text": "ok", "labels": ["a"]}\n{"text": "<p>&nbsp;</p>", "labels": ["a"]}\n',
     r"d.jsonl:2: 'text' has no words once its HTML markup is removed"),
    ("d.csv", 'text,labels\n"<div><img src=""a.jpg""></div>",a\n', r"d.csv:2: 'text' has no words"),
    # An article's paragraphs are lines of one cell: the row a spreadsheet shows is named too.
    ("d.csv", 'text,labels\n"Para one.\n\nPara two.",a\n,b\n', r"d.csv:5 \(spreadsheet row 3\): 'text' must be"),
    ("d.jsonl", "", r"no examples"),
    # A row without the key is named with the keys it has (it said only "'labels' must be a ... list").
    ("d.jsonl", '{"text": "x", "label": "sport"}\n',
     r"d.jsonl:1: the row has no 'labels' key; its keys: 'text', 'label' \('labels' is plural"),
    ("d.jsonl", '{"headline": "h", "body": "x", "labels": ["a"]}\n',
     r"d.jsonl:1: the row has no 'text' key; its keys: 'headline', 'body', 'labels'$"),
    # A lone surrogate is valid JSON; the tokenizer failed on it with a TypeError traceback.
    ("d.jsonl", '{"text": "ok", "labels": ["a"]}\n{"text": "x \\ud800", "labels": ["a"]}\n',
     r"d.jsonl:2: 'text' is not valid Unicode \(a lone surrogate"),
    ("d.jsonl", '{"text": "x", "labels": ["\\udfff"]}\n', r"d.jsonl:1: 'labels' is not valid Unicode"),
    # Headers that have the columns, but not as the reader wants them: say what was found.
    ("d.csv", "text;labels\nx;a\n", r"it has 'text;labels' \(the delimiter looks like ';'"),
    ("d.csv", "Text,Labels\nx,a\n", r"it has 'Text', 'Labels' \(column names are case-sensitive"),
    ("d.csv", "text,label\nx,a\n", r"d.csv:1: the header needs 'text' and 'labels' columns; it has 'text', 'label'$"),
    # A .tsv was read as JSONL and failed on line 1 with a JSON error.
    ("d.tsv", "text\tlabels\nx\ta\n", r"d.tsv: unknown file type '.tsv': training data is .jsonl \(or .ndjson\) or"),
])
def test_bad_rows_are_reported_by_line(tmp_path, name, body, message):
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(DataFileError, match=message):
        read_labeled(path)


def test_fingerprint_and_seeded_split(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(f'{{"text": "t{i}", "labels": ["{"ab"[i % 2]}"]}}\n' for i in range(20)))
    examples = read_labeled(path)
    print_ = fingerprint(path, examples)
    assert print_["rows"] == 20 and print_["label_counts"] == {"a": 10, "b": 10} and len(print_["sha256"]) == 64
    train, held = split_validation(examples, 0.25, seed=3)
    assert len(held) == 5 and len(train) == 15 and not set(map(id, held)) & set(map(id, train))
    assert split_validation(examples, 0.25, seed=3)[1] == held
    assert split_validation(examples, 0.25, seed=4)[1] != held


def test_data_no_model_can_learn_from_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "train.jsonl"
    with pytest.raises(DataFileError, match="too few articles"):
        check_trainable(path, [])
    sport = [Example("Arsenal won.", ("sport",)), Example("Rain stopped play.", ("sport",))]
    with pytest.raises(DataFileError, match="every training article is labelled 'sport'"):
        check_trainable(path, sport)
    check_trainable(path, [*sport, Example("Rates rose.", ("economy",))])  # two labels: fine


def test_labels_only_in_the_validation_data_are_named():
    train = [Example("a", ("sport",)), Example("b", ("economy", "trade"))]
    validation = [Example("c", ("tech",)), Example("d", ("trade", "arts"))]
    assert labels_never_trained(train, validation) == ["arts", "tech"]
    assert labels_never_trained(train, train) == []


def test_a_validation_label_spelled_otherwise_in_training_is_named_with_the_training_spelling(tmp_path):
    """'politics' in the --validation file beside 'Politics' in training: the warning said only
    that the model cannot learn 'politics', not that it is the training data's 'Politics'."""
    from training.config import TrainingConfig
    from training.distributed import Distributed
    from training.training_split import read_training_data

    train, validation = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    rows = [{"text": f"Vote {i}.", "labels": ["Politics"]} for i in range(3)]
    rows += [{"text": f"Goal {i}.", "labels": ["Sport"]} for i in range(3)]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    validation.write_text(json.dumps({"text": "A vote.", "labels": ["politics "]}) + "\n"
                          + json.dumps({"text": "A poem.", "labels": ["Arts"]}) + "\n")
    warnings: list[str] = []
    config = TrainingConfig(train=train, validation=validation, output=tmp_path / "m")
    read_training_data(config, Distributed(), warnings.append, lambda _: None)
    [unseen] = [w for w in warnings if "on no training article" in w]
    assert unseen.endswith(": Arts, politics (the training data spells it 'Politics')")


def test_validation_articles_that_are_training_articles_are_counted():
    train = [Example("Rates rose.\n\nThe bank said so.", ("economy",)), Example("Arsenal won.", ("sport",))]
    validation = [Example("Rates  rose.\nThe bank said so.", ("economy",)),  # the same text, other spacing
                  Example("Rates fell.", ("economy",))]
    assert texts_in_both(train, validation) == 1
    assert texts_in_both(train, train) == 2


def test_one_text_in_two_unicode_forms_is_one_text_to_the_duplicate_checks(tmp_path):
    """An article with its accents composed (NFC) and decomposed (NFD) was two texts: both trained
    and validated on, and given different labels without a warning."""
    composed, decomposed = "Le café a fermé.", "Le cafe\u0301 a ferme\u0301."
    assert texts_in_both([Example(composed, ("economy",))], [Example(decomposed, ("economy",))]) == 1
    examples = [Example(f"Story {i}.", ("a" if i % 2 else "b",)) for i in range(40)]
    examples += [Example(composed, ("a",)), Example(decomposed, ("a",))]
    for seed in range(10):
        train, validation = split_validation(examples, 0.2, seed)
        assert texts_in_both(train, validation) == 0
    [warning] = data_warnings(tmp_path / "d.jsonl", [Example(composed, ("economy",), line=1),
                                                     Example(decomposed, ("sport",), line=2)])
    assert "1 text(s) appear more than once with different labels" in warning


def test_a_bom_or_direction_mark_at_either_end_is_the_same_text_to_the_duplicate_checks():
    """As to the feedback store: the copy with a mark went to validation with its twin in training."""
    text = "Le café a fermé."
    for marked in ("\ufeff" + text, "\u200f" + text + "\u200e"):
        assert texts_in_both([Example(text, ("economy",))], [Example(marked, ("economy",))]) == 1


def test_copies_of_one_text_fall_on_one_side_of_the_split():
    examples = [Example(f"Story {i}.", ("a" if i % 2 else "b",)) for i in range(40)]
    examples += [Example("Story  3.", ("a",)), Example("Story 3.\n", ("a",))]  # wire copy filed again
    for seed in range(10):
        train, validation = split_validation(examples, 0.2, seed)
        assert texts_in_both(train, validation) == 0
        assert len(train) + len(validation) == len(examples)


def test_without_copies_the_split_is_the_plain_seeded_shuffle():
    """Models trained before copies were grouped keep their validation split."""
    import random

    examples = [Example(f"Story {i}.", ("a",)) for i in range(50)]
    order = list(range(50))
    random.Random(7).shuffle(order)
    train, validation = split_validation(examples, 0.1, 7)
    assert validation == [examples[i] for i in order[:5]]
    assert train == [e for i, e in enumerate(examples) if i not in order[:5]]


def test_finetune_says_why_before_loading_a_model(tmp_path, capsys):
    from training.finetune import main

    one_label = tmp_path / "sport.jsonl"
    rows = [{"text": f"Match report {i}.", "labels": ["sport"]} for i in range(5)]
    one_label.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["--train", str(one_label), "--output", str(tmp_path / "model")]) == 2
    assert "needs at least two labels" in capsys.readouterr().err
    one_row = tmp_path / "one.jsonl"
    one_row.write_text('{"text": "Rates rose.", "labels": ["economy"]}\n')
    assert main(["--train", str(one_row), "--output", str(tmp_path / "model")]) == 2
    assert "too few articles" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()
    # Two labels, one article each: holding either out would leave its label untrained, and it says so.
    two = tmp_path / "two.jsonl"
    two.write_text('{"text": "Two labels here.", "labels": ["a"]}\n{"text": "And there.", "labels": ["b"]}\n')
    assert main(["--train", str(two), "--output", str(tmp_path / "model")]) == 2
    assert "no article can be held out for validation without taking the last article of a label" in (
        capsys.readouterr().err)


def test_the_split_never_holds_out_a_labels_last_articles():
    """A label with one article (or one text filed twice) went to validation at some seeds: the
    model then carried a label it never learnt, or every training article had the other label."""
    examples = [Example(f"Sport story {i}.", ("sport",)) for i in range(3)]
    examples += [Example("Rates rose.", ("economy",)), Example("Rates  rose.", ("economy",)),  # one text, twice
                 Example("A budget vote.", ("economy", "politics"))]
    for seed in range(30):
        train, validation = split_validation(examples, 0.3, seed)
        assert {x for e in train for x in e.labels} == {"sport", "economy", "politics"}
        assert validation and len(train) + len(validation) == len(examples)
    single = [Example("Goal.", ("sport",)), Example("Vote.", ("politics",))]
    assert split_validation(single, 0.5, 1) == (single, [])


def test_threshold_maximises_f1():
    scores = np.array([0.9, 0.8, 0.35, 0.3, 0.1])
    truth = np.array([1, 1, 1, 0, 0])
    t = best_threshold(scores, truth)
    assert 0.3 < t <= 0.35  # all three positives, no negative
    assert best_threshold(scores, np.zeros(5)) == 0.5
    assert calibrate(np.stack([scores, 1 - scores], axis=1), np.stack([truth, 1 - truth], axis=1))[0] == t


@pytest.mark.parametrize("extra", [["--svm-c", "-1"], ["--svm-c", "nan"], ["--embedding-weight", "nan"],
                                   ["--embedding-weight", "-1"], ["--label-prior", "nan"], ["--nb-alpha", "nan"],
                                   ["--nb-alpha", "-1"], ["--nb-alpha", "inf"],
                                   ["--seed", "-1"], ["--seed", str(2**32)]])
def test_finetune_refuses_hybrid_settings_no_fit_can_use_before_reading_anything(tmp_path, capsys, extra):
    from training.finetune import main

    assert main(["--train", str(tmp_path / "absent.jsonl"), "--output", str(tmp_path / "m"), *extra]) == 2
    assert "error: --" in capsys.readouterr().err  # the option, not the missing file


def test_an_embedding_weight_of_0_trains_a_tfidf_only_hybrid_model(tmp_path):
    """The documented "0: TF-IDF only" (it was refused as "above 0"): the article vector plays no part."""
    import json

    from training.finetune import main

    target = tmp_path / "tfidf"
    assert main(["--train", "seeds/train-small.jsonl", "--output", str(target), "--embedding-weight", "0",
                 "--label-prior", "0"]) == 0
    assert json.loads((target / "labels.json").read_text())["labels"]
    from safetensors.numpy import load_file

    head = load_file(str(target / "head.safetensors"))
    assert head["weight"].shape == (4, 384) and not head["weight"].any()  # every article-vector weight 0


def test_an_export_of_several_label_sets_is_named_so_finetune_can_warn(tmp_path):
    from training.data import label_sets

    export = tmp_path / "corrections.jsonl"
    export.write_text('{"text": "a", "labels": ["sports"], "taxonomy": "news"}\n'
                      '{"text": "a", "labels": ["sport"], "taxonomy": "iptc-top"}\n'
                      '{"text": "b", "labels": ["desk"], "taxonomy": null}\n')
    assert label_sets(export) == ["(typed labels)", "iptc-top", "news"]
    plain = tmp_path / "train.jsonl"
    plain.write_text('{"text": "a", "labels": ["sports"]}\n')
    assert label_sets(plain) == []


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    """Excel's "CSV UTF-8" starts with a BOM: its header read '\\ufefftext' and was refused."""
    csv_file, jsonl = tmp_path / "d.csv", tmp_path / "d.jsonl"
    csv_file.write_text("\ufefftext,labels\nRates rose.,economy\n", encoding="utf-8")
    jsonl.write_text('\ufeff{"text": "Rates rose.", "labels": ["economy"]}\n', encoding="utf-8")
    assert read_labeled(csv_file) == read_labeled(jsonl) == [Example("Rates rose.", ("economy",))]


def test_labels_that_look_like_mistakes_are_warned_about_with_lines(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("text,labels\nGoal!,Sport\nRates rose.,economy\nA win.,sport\nRates  rose.,markets\n"
                    '"Flu, and taxes.","health,economy"\n')
    examples = read_labeled(path)
    assert [e.labels for e in examples] == [("Sport",), ("economy",), ("sport",), ("markets",), ("health,economy",)]
    err = capsys.readouterr().err
    assert "1 label(s) spelled in several ways (case or spacing)" in err
    assert "'Sport' (1 row, first d.csv:2) and 'sport' (1 row, first d.csv:4)" in err
    # and what to do: it said only that they train as separate labels
    assert ("To train one label, spell it one way in the file (exported corrections: correct those texts again "
            "with the spelling to keep; a text's newest correction is the one exported)") in err
    assert "1 text(s) appear more than once with different labels" in err
    assert "d.csv:3 'economy', d.csv:5 'markets'" in err
    assert "1 row(s) have a label with a comma or semicolon, trained as one label: 'health,economy' (d.csv:6)" in err
    assert err.count("warning: ") == 3
    read_labeled(_clean(tmp_path))
    assert capsys.readouterr().err == ""
    # The news and iptc-top taxonomies name labels with ", ": one label each, not a mistake.
    (tmp_path / "iptc.csv").write_text('text,labels\n"Rates rose.","economy, business and finance|politics"\n')
    assert read_labeled(tmp_path / "iptc.csv")[0].labels == ("economy, business and finance", "politics")
    assert capsys.readouterr().err == ""


def test_ndjson_is_read_as_jsonl_as_bulk_reads_it(tmp_path):
    (tmp_path / "d.ndjson").write_text('{"text": "Goal!", "labels": ["sport"]}\n')
    assert read_labeled(tmp_path / "d.ndjson")[0].labels == ("sport",)


def _clean(tmp_path):
    path = tmp_path / "clean.jsonl"
    path.write_text('{"text": "Goal!", "labels": ["sport"]}\n{"text": "Goal!", "labels": ["sport"]}\n'
                    '{"text": "Arts, culture.", "labels": ["arts, culture"]}\n')  # a JSONL label may have a comma
    return path


def test_training_reads_an_article_longer_than_the_service_tags(tmp_path):
    """Training reads an article in windows, whatever its length (docs/training.md); the
    service's NEWSTAG_MAX_TEXT_CHARS bounds a request, and evaluate checks it before tagging."""
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "Rates rose. " * 17_000, "labels": ["economy"]}) + "\n")
    assert len(read_labeled(path)[0].text) == 204_000


def test_finetune_refuses_a_lone_surrogate_with_its_line(tmp_path, capsys):
    from training.finetune import main

    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "Goal!", "labels": ["sport"]}\n{"text": "Rates \\ud800", "labels": ["economy"]}\n')
    assert main(["--train", str(path), "--output", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: 'text' is not valid Unicode" in err and "Traceback" not in err


def test_a_jsonl_label_string_joining_other_rows_labels_is_warned_about(tmp_path, capsys):
    """"labels": "sport, business" trained a label of that name, a 9-label model of 5 desks, silently."""
    path = tmp_path / "d.jsonl"
    rows = [("Goal!", "sport"), ("Rates rose.", "business"), ("Both.", "sport, business"), ("Again.", "sport|business"),
            ("IPTC.", "economy, business and finance")]
    path.write_text("".join(json.dumps({"text": t, "labels": labels}) + "\n" for t, labels in rows))
    examples = read_labeled(path)
    assert examples[2].labels == ("sport, business",)  # trained as given: only its owner knows
    err = capsys.readouterr().err
    assert "2 rows give 'labels' as one string with a separator in it, trained as one label: " in err
    assert "'sport, business' (d.jsonl:3), 'sport|business' (d.jsonl:4); give several labels as a list" in err
    assert "economy, business and finance" not in err


def test_the_small_validation_warning_advises_what_applies():
    """With a --validation file it said "Hold out more (--validation-split)", which cannot be combined with it."""
    from training.training_split import validation_warning

    train = [Example(f"Match {i}.", ("sport",)) for i in range(20)] + [Example(f"Rates {i}.", ("economy",))
                                                                        for i in range(20)]
    validation = [Example("A goal.", ("sport",))]
    from_split = validation_warning(train, validation, "hybrid")
    assert from_split is not None and "Hold out more (--validation-split)" in from_split
    from_file = validation_warning(train, validation, "hybrid", from_file=True)
    assert from_file is not None and "--validation-split" not in from_file
    assert from_file.endswith("Add articles of every label to the --validation file.")
    assert "1 of the 2 labels has no validation article" in from_file


@pytest.mark.parametrize("name, row, line", [("d.jsonl", b'{"text": "caf\xe9", "labels": ["y"]}', 5),
                                             ("d.csv", b"caf\xe9,y", 6)])  # after the header line
def test_a_file_that_is_not_utf8_is_reported_with_its_line(tmp_path, name, row, line):
    """Bad rows are reported by line: this one was not ("d.jsonl: not UTF-8")."""
    head = b'{"text": "a", "labels": ["x"]}\n' if name.endswith("jsonl") else b"text,labels\na,x\n"
    path = tmp_path / name
    path.write_bytes(head + b"\n" * 3 + row + b"\n")
    with pytest.raises(DataFileError, match=rf"{name}:{line}: not UTF-8 \(invalid continuation byte\); save it as "
                       rf"UTF-8 .* iconv -f windows-1252 -t utf-8 {name} > d-utf8"):
        read_labeled(path)


def test_a_utf16_file_is_named_as_such_with_how_to_convert_it(tmp_path):
    """A spreadsheet's "Unicode Text" export was told only "not UTF-8 (invalid start byte)"."""
    path = tmp_path / "d.csv"
    path.write_bytes("text,labels\nGoal.,sport\n".encode("utf-16"))
    with pytest.raises(DataFileError, match=r"d.csv:1: not UTF-8 \(invalid start byte\); it is UTF-16 .* "
                                            r"\(iconv -f utf-16 -t utf-8 d.csv > d-utf8.csv\)"):
        read_labeled(path)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, float("nan")])
def test_a_validation_split_out_of_range_says_what_it_must_be_and_what_else_to_do(fraction):
    """0 was refused as "must be between 0 and 1", which 0 is: a user wanting no split was told nothing."""
    rows = [Example(f"Text {i}.", ("sport" if i % 2 else "economy",)) for i in range(10)]
    with pytest.raises(DataFileError) as caught:
        split_validation(rows, fraction, 1)
    message = str(caught.value)
    assert f"--validation-split must be above 0 and below 1, not {fraction:g}" in message
    assert "give a --validation file" in message


def test_html_rows_are_read_as_the_service_reads_them(tmp_path):
    """A CMS export's "<p>" and "href" were trained on, and the service never reads them."""
    from service.engine.markup import readable

    headline = "Central bank raises rates again as inflation lingers"
    page = (f'<!DOCTYPE html><html><head><title>{headline} | The Ledger</title></head><body>'
            '<nav><a href="/sport">Sport</a> <a href="/weather">Weather</a></nav><div class="story">'
            + "".join(f"<p>The central bank raised its main interest rate again on Thursday, sentence {i}.</p>"
                      for i in range(8)) + "</div><footer>&copy; The Ledger</footer></body></html>")
    rows = [{"text": '<p>The ECB raised rates &amp; <a href="https://x.example/y">markets</a> fell.</p>',
             "labels": ["economy"]},
            {"text": page, "labels": ["economy"]},
            {"text": "Plain  text\n\n\nkept as it is.", "labels": ["other"]}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fragment, whole, plain = read_labeled(path)
    assert fragment.text == "The ECB raised rates & markets fell."
    assert whole.text.startswith(f"{headline}\n\nThe central bank raised") and "Sport" not in whole.text
    assert "The Ledger" not in whole.text and " ".join(readable(page).split()) != " ".join(whole.text.split())
    assert plain.text == rows[2]["text"]


def test_words_an_entity_cut_are_trained_whole(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": "<p>La r&eacute;forme des retraites</p>", "labels": ["social"]}) + "\n")
    assert read_labeled(path)[0].text == "La réforme des retraites"


def test_rows_repeating_an_earlier_row_are_warned_about(tmp_path):
    """An export made twice trained each article twice without a word (30 articles, 15 given twice, took the
    hybrid recipe's out-of-fold quality from 0.73 to 0.92: a copy was scored by a model that learnt its twin)."""
    rows = [Example("Arsenal won.", ("sport",), line=1), Example("Rates rose.", ("economy",), line=2),
            Example("Arsenal  won.\n", ("sport",), line=3), Example("Rates rose.", ("economy",), line=4),
            Example("Rates rose.", ("economy", "markets"), line=5)]  # other labels: the conflict warning's
    repeated = repeated_rows(tmp_path / "d.jsonl", rows)
    assert repeated is not None and "2 row(s) repeat an earlier row's text and labels" in repeated
    assert "d.jsonl:3 repeats line 1, d.jsonl:4 repeats line 2;" in repeated
    assert repeated_rows(tmp_path / "d.jsonl", rows[:2]) is None


def test_finetune_warns_about_repeated_rows_before_loading_a_model(tmp_path):
    from training.config import TrainingConfig
    from training.distributed import Distributed
    from training.training_split import read_training_data

    train = tmp_path / "train.jsonl"
    rows = [{"text": f"Vote {i}.", "labels": ["politics"]} for i in range(4)]
    rows += [{"text": f"Goal {i}.", "labels": ["sport"]} for i in range(4)]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:2]))
    warnings: list[str] = []
    read_training_data(TrainingConfig(train=train, output=tmp_path / "m", validation_split=0.2), Distributed(),
                       warnings.append, lambda _: None)
    assert any("2 row(s) repeat an earlier row's text and labels" in w for w in warnings)


def test_a_csv_label_list_joined_by_a_semicolon_or_comma_and_space_is_warned_about(tmp_path, capsys):
    """'economy;politics' and 'sport, economy' trained as labels of those names without a word."""
    path = tmp_path / "d.csv"
    path.write_text('text,labels\nGoal.,sport\nRates rose.,economy\nA vote.,politics\nBudget.,"economy;politics"\n'
                    'Match tax.,"sport, economy"\n')
    read_labeled(path)
    err = capsys.readouterr().err
    assert ("2 row(s) have a label with a comma or semicolon, trained as one label: 'economy;politics' (d.csv:5), "
            "'sport, economy' (d.csv:6)") in err
