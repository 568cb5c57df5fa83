"""Every result says which language its text is in, and warns when the model does not read it."""

from __future__ import annotations

RUSSIAN = ("Министр иностранных дел Азербайджана встретился со своим белорусским коллегой. "
           "Стороны обсудили двустороннее сотрудничество и подготовку к COP29.")
AZERBAIJANI = ("Azərbaycanın xarici işlər naziri belaruslu həmkarı ilə görüşüb. Tərəflər ikitərəfli "
               "əməkdaşlığı və COP29-a hazırlığı müzakirə ediblər.")


def test_english_news_is_english_with_no_warning(tagger, seed_text):
    [result] = tagger.tag([seed_text])
    assert result.language == "en"
    assert result.warnings == ()


def test_other_languages_are_named_and_warned_about_for_an_english_only_model(tagger):
    results = tagger.tag([RUSSIAN, AZERBAIJANI])
    assert [r.language for r in results] == ["ru", "az"]
    for result in results:
        warning = result.warnings[0]
        assert warning.code == "language-unsupported"
        assert result.language in warning.message and "all-MiniLM-L6-v2" in warning.message
        # An English model cannot read them: its genre check may call them non-news as well
        assert {w.code for w in result.warnings[1:]} <= {"not-news"}


def test_text_without_a_language_is_undetermined_and_not_warned_about_its_language(tagger):
    [result] = tagger.tag(["12345 67890"])
    assert result.language == "und"
    assert "language-unsupported" not in {w.code for w in result.warnings}
    assert result.topics == ()  # nor is it news (genre.py)


def test_the_api_returns_language_and_warnings_per_document(client):
    response = client.post("/v1/classify", json={"documents": [{"id": "ru", "text": RUSSIAN},
                                                               {"id": "en", "text": "Oil prices rose sharply."}]})
    assert response.status_code == 200
    ru, en = response.json["results"]
    assert ru["language"] == "ru" and ru["warnings"][0]["code"] == "language-unsupported"
    assert en["language"] == "en" and en["warnings"] == []


def test_a_model_of_unknown_languages_gives_no_language_warning(tiny_tagger):
    [result] = tiny_tagger.tag([RUSSIAN])  # a local model whose card names no language
    assert result.language == "ru"
    assert result.warnings == ()


def test_full_width_english_is_english_and_its_evidence_slices_the_text_as_sent(tagger):
    """The language detector reads it NFKC-folded; the offsets stay the text's own."""
    text = ("ＴＯＫＹＯ　ｓｔｏｃｋｓ ｒｏｓｅ ｔｏｄａｙ ｏｎ ｅｘｐｏｒｔ ｄａｔａ。 "
            "Ｔｈｅ ｃｅｎｔｒａｌ ｂａｎｋ ｈｅｌｄ ｒａｔｅｓ.")
    [result] = tagger.tag([text])
    assert result.language == "en"
    assert "language-unsupported" not in {w.code for w in result.warnings}
    for topic in result.topics:
        for evidence in topic.evidence:
            assert text[evidence.start:evidence.end] == evidence.text


def test_full_width_english_gets_the_topics_of_its_ascii_form(tagger):
    """all-MiniLM-L6-v2's vocabulary has no full-width forms: it read every word as [UNK], and the
    genre check called the text non-news (0.04) where its ASCII form is business news (0.93)."""
    plain = "TOKYO stocks rose today on strong export data, led by carmakers and chip makers."
    full = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in plain)
    [ascii_result, full_result] = tagger.tag([plain, full])
    assert ascii_result.topics and [(t.label, t.score) for t in full_result.topics] == [
        (t.label, t.score) for t in ascii_result.topics]
    assert "not-news" not in {w.code for w in full_result.warnings}
    for topic in full_result.topics:
        assert all(full[e.start:e.end] == e.text for e in topic.evidence)
