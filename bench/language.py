"""Language detectors side by side: accuracy, "und" on junk, speed and memory.

Usage:
    python -m bench.language [--data ../shared/data] [--limit 800] [--only NAME ...]
    python -m bench.language --splitters

With --splitters it compares sentence splitters instead (bench/splitters.py).

Candidates: newstag's ``detect_language`` (the mean of py3langid's and fastText's
probabilities, behind its "und" gate), py3langid's and fastText's bare answers, lingua with
all its languages preloaded (low- and high-accuracy modes) and langdetect (seeded). Each bare
library is also scored behind a gate (enough letters, probability >= 0.5, newstag's rule
with py3langid alone until session 41) so the columns compare like with like. Every
candidate runs in a fresh process of its own, so "RSS" is what loading it added to a
process that had already imported numpy (the service always has).

Data, read from ../shared/data (never copied here): SIB-200 sentences in seven languages
and English, MasakhaNEWS French articles; plus the Azerbaijani and Ukrainian sentences
below, written for this benchmark. Short texts, where detectors differ most: the headlines
(first lines) of AG News, BBC News and Inshorts articles (English) and of MasakhaNEWS
French, and the first six words of SIB-200 sentences in the seven other languages.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from service.interrupts import run_command

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SIB_CODES = {"rus_Cyrl": "ru", "deu_Latn": "de", "fra_Latn": "fr", "tur_Latn": "tr", "arb_Arab": "ar",
             "zho_Hans": "zh", "spa_Latn": "es"}
CANDIDATES = ["newstag", "py3langid", "fasttext", "lingua-low", "lingua-high", "langdetect"]
SINGLE_GATE = 0.5  # a single library's probability, for the gated rows

AZ = [
    "Prezident İlham Əliyev bu gün Bakıda Avropa İttifaqının nümayəndə heyətini qəbul edib.",
    "Azərbaycan Respublikasının Nazirlər Kabineti yeni iqtisadi islahatlar paketini təsdiqləyib.",
    "Bakıda keçirilən beynəlxalq konfransda enerji təhlükəsizliyi məsələləri müzakirə olunub.",
    "Milli Məclisin növbəti iclasında büdcə layihəsi ikinci oxunuşda qəbul edilib.",
    "Hava proqnozuna görə, sabah paytaxtda güclü külək əsəcək və yağış yağacaq.",
    "Qarabağ futbol klubu Avropa Liqasının qrup mərhələsində növbəti oyununu keçirəcək.",
    "Mərkəzi Bank manatın rəsmi məzənnəsini dəyişməz saxlayıb.",
    "Təhsil Nazirliyi dərs ilinin sentyabrın on beşində başlayacağını açıqlayıb.",
    "Şəhərdə yeni metro stansiyasının tikintisi gələn il başa çatacaq.",
    "Səhiyyə işçiləri əhalini peyvənd olunmağa çağırıb.",
]
UK = [
    "Президент України зустрівся з прем'єр-міністром у Києві, щоб обговорити енергетичну безпеку.",
    "Верховна Рада ухвалила закон про державний бюджет на наступний рік.",
    "У Львові відкрили новий культурний центр для дітей та молоді.",
    "Національний банк України залишив облікову ставку без змін.",
    "Синоптики прогнозують сильні дощі та грози на заході країни.",
    "Збірна України з футболу здобула перемогу в товариському матчі.",
    "Міністерство освіти оголосило про зміни в програмі вступних іспитів.",
    "Ціни на пальне в Україні зросли вже втретє за останній місяць.",
    "Науковці Харківського університету створили новий матеріал для сонячних батарей.",
    "Мешканців міста закликали економити електроенергію у вечірні години.",
]
JUNK = ["Hello", "OK", "lol", "...", "12345", "+994 12 345 67 89", "2024-05-01 12:00:00", "$1,234.56",
        "😀😀😀", "🔥🔥 👍", "#COP29", "https://example.com/a/b?c=1", "a1b2c3d4e5", "def f(x): return x + 1",
        "x = np.zeros((3, 4))", '{"a": 1, "b": [2, 3]}', '<div class="x"></div>', "SELECT * FROM t WHERE id = 1;",
        "", "   "]

Detector = Callable[[str], tuple[str, float]]


def load_detector(name: str) -> tuple[Detector, bool]:
    """The candidate's detect function (code, confidence) and whether it gates "und" itself."""
    if name == "newstag":
        from service.engine.language import detect_language

        def newstag(text: str) -> tuple[str, float]:
            found = detect_language(text)
            return found.code, found.confidence

        return newstag, True
    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        from service.engine.language import _FOLD

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

        def bare_py3langid(text: str) -> tuple[str, float]:
            label, probability = identifier.classify(text)
            return _FOLD.get(label, label), probability

        return bare_py3langid, False
    if name == "fasttext":
        from service.engine.language import _get_fasttext

        model = _get_fasttext()

        def bare_fasttext(text: str) -> tuple[str, float]:
            labels, probabilities = model.predict(" ".join(text.split()), k=1)
            if not labels:
                return "und", 0.0
            return labels[0].removeprefix("__label__"), float(probabilities[0])

        return bare_fasttext, False
    if name.startswith("lingua"):
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
        detector = (builder.with_low_accuracy_mode() if name == "lingua-low" else builder).build()

        def lingua(text: str) -> tuple[str, float]:
            values = detector.compute_language_confidence_values(text)
            if not values or values[0].value == 0:
                return "und", 0.0
            return values[0].language.iso_code_639_1.name.lower(), values[0].value

        return lingua, False
    if name == "langdetect":
        from langdetect import DetectorFactory, detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0  # langdetect samples n-grams at random; unseeded it is not deterministic

        def langdetect(text: str) -> tuple[str, float]:
            try:
                best = detect_langs(text)[0]
            except LangDetectException:  # "No features in text"
                return "und", 0.0
            return best.lang.split("-")[0], best.prob

        return langdetect, False
    raise SystemExit(f"unknown candidate {name!r}; choose from {', '.join(CANDIDATES)}")


def gated(detect: Detector) -> Detector:
    """The bare library behind newstag's "und" rule, for a like-for-like comparison."""
    from service.engine.language import MAX_CHARS, _has_letters

    def detect_gated(text: str) -> tuple[str, float]:
        text = text[:MAX_CHARS]
        if not _has_letters(text):
            return "und", 0.0
        code, confidence = detect(text)
        return (code, confidence) if confidence >= SINGLE_GATE and len(code) == 2 else ("und", confidence)

    return detect_gated


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def labelled_sets(data: Path, limit: int) -> dict[str, list[tuple[str, str]]]:
    """Named lists of (text, expected code)."""
    sets: dict[str, list[tuple[str, str]]] = {code: [] for code in SIB_CODES.values()}
    for row in read_jsonl(data / "sib200-multi-train.jsonl"):
        if len(sets[SIB_CODES[row["lang"]]]) < limit:
            sets[SIB_CODES[row["lang"]]].append((row["text"], SIB_CODES[row["lang"]]))
    sets["en"] = [(row["text"], "en") for row in read_jsonl(data / "sib200-eng.jsonl")[:limit]]
    sets["fr articles"] = [(row["text"], "fr") for row in read_jsonl(data / "masakhanews-fra-dev.jsonl")[:limit]]
    sets["az (ours)"] = [(text, "az") for text in AZ]
    sets["uk (ours)"] = [(text, "uk") for text in UK]
    sets["junk"] = [(text, "und") for text in JUNK]
    sets.update(short_sets(data, limit))
    return sets


def short_sets(data: Path, limit: int) -> dict[str, list[tuple[str, str]]]:
    """Headlines and six-word openings: what a monitoring feed sends alone."""
    import random

    english = []
    for name in ("ag-news-test.jsonl", "bbc-news-train.jsonl", "inshorts-news.jsonl"):
        rows = read_jsonl(data / name)
        random.Random(0).shuffle(rows)
        english += [(row["text"].split("\n")[0], "en") for row in rows[:limit // 2]]
    french = [(row["text"].split("\n")[0], "fr") for row in read_jsonl(data / "masakhanews-fra-dev.jsonl")[:limit]]
    openings: list[tuple[str, str]] = []
    per_language = dict.fromkeys(SIB_CODES.values(), 0)
    for row in read_jsonl(data / "sib200-multi-train.jsonl"):
        code = SIB_CODES[row["lang"]]
        if per_language[code] < limit // 4:
            per_language[code] += 1
            opening = row["text"][:12] if code == "zh" else " ".join(row["text"].split()[:6])
            openings.append((opening, code))
    return {"en headlines": english, "fr headlines": french, "6 words, 7 languages": openings}


def articles_500(data: Path, count: int) -> list[str]:
    """The first 500 words of long articles: half BBC News (English), half MasakhaNEWS (French)."""
    texts = []
    for name in ("bbc-news-train.jsonl", "masakhanews-fra-dev.jsonl"):
        long = [row["text"] for row in read_jsonl(data / name) if len(row["text"].split()) >= 500]
        texts += [" ".join(text.split()[:500]) for text in long[:count // 2]]
    return texts


def ms_per_text(detect: Callable[[str], object], texts: list[str]) -> tuple[float, float]:
    """Median and mean milliseconds per call."""
    times = []
    for text in texts:
        start = time.perf_counter()
        detect(text)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), statistics.fmean(times)


def run_candidate(name: str, data: Path, limit: int) -> dict:
    """Measure one candidate in this process (which must be fresh for the RSS figure)."""
    import resource

    import numpy  # noqa: F401  (in the baseline: the service has numpy loaded already)
    import psutil

    import service.engine.language  # noqa: F401  (in the baseline too: importing it loads no model)

    process = psutil.Process()
    rss_before = process.memory_info().rss
    start = time.perf_counter()
    detect, gates_itself = load_detector(name)
    detect("Warm-up: this loads whatever the library loads lazily.")
    load_s = time.perf_counter() - start
    rss_mib = (process.memory_info().rss - rss_before) / 2**20
    peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before) / 2**20  # KiB on Linux
    detect_gated = detect if gates_itself else gated(detect)
    result: dict = {"name": name, "load_s": load_s, "rss_mib": rss_mib, "peak_mib": peak_mib, "bare": {}, "gated": {}}
    sentences = []
    for set_name, rows in labelled_sets(data, limit).items():
        result["gated"][set_name] = sum(detect_gated(text)[0] == want for text, want in rows) / len(rows)
        result["bare"][set_name] = sum(detect(text)[0] == want for text, want in rows) / len(rows)
        if set_name in SIB_CODES.values() or set_name == "en":
            sentences += [text for text, _ in rows]
    result["sentence_ms"] = ms_per_text(detect_gated, sentences)
    result["article_ms"] = ms_per_text(detect_gated, articles_500(data, 200))
    if name == "newstag":
        result["sweep"] = threshold_sweep(data, limit)
    sample = [text for rows in labelled_sets(data, 50).values() for text, _ in rows]
    first, second = [detect(text) for text in sample], [detect(text) for text in sample]
    result["same_codes"] = [code for code, _ in first] == [code for code, _ in second]
    result["same_confidences"] = first == second
    return result


def threshold_sweep(data: Path, limit: int) -> dict[str, list[float]]:
    """Right, "und" and wrong shares of all labelled texts, and junk called "und", per MIN_CONFIDENCE."""
    from service.engine import language

    saved, language.MIN_CONFIDENCE = language.MIN_CONFIDENCE, 0.0  # see every answer and its probability
    try:
        answers = [(language.detect_language(text), want) for rows in labelled_sets(data, limit).values()
                   for text, want in rows]
    finally:
        language.MIN_CONFIDENCE = saved
    sweep = {}
    texts = [(found, want) for found, want in answers if want != "und"]
    junk = [found for found, want in answers if want == "und"]
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        right = sum(found.code == want and found.confidence >= threshold for found, want in texts)
        und = sum(found.code == "und" or found.confidence < threshold for found, _ in texts)
        junk_und = sum(found.code == "und" or found.confidence < threshold for found in junk)
        sweep[f"{threshold:.1f}"] = [right / len(texts), und / len(texts), 1 - (right + und) / len(texts),
                                     junk_und / len(junk)]
    return sweep


def print_tables(results: list[dict]) -> None:
    sets = list(results[0]["gated"])
    print("Accuracy (share of texts given the right code; for junk, the share called 'und').")
    print("Gated = behind newstag's und rule; a bare library answers every text.")
    print("| candidate | " + " | ".join(sets) + " |")
    print("|---" * (len(sets) + 1) + "|")
    for result in results:
        for kind in ("gated", "bare"):
            if kind == "bare" and result["name"] == "newstag":
                continue
            label = result["name"] if result["name"] == "newstag" else f"{result['name']} ({kind})"
            print(f"| {label} | " + " | ".join(f"{result[kind][s]:.3f}" for s in sets) + " |")
    print()
    print("| candidate | load s | RSS added MiB (peak while loading) | ms/sentence p50 (mean) "
          "| ms/500-word article p50 (mean) | same answer twice: code, confidence |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['load_s']:.2f} | {r['rss_mib']:.0f} ({r['peak_mib']:.0f}) | "
              f"{r['sentence_ms'][0]:.3f} ({r['sentence_ms'][1]:.3f}) | "
              f"{r['article_ms'][0]:.2f} ({r['article_ms'][1]:.2f}) | "
              f"{'yes' if r['same_codes'] else 'NO'}, {'yes' if r['same_confidences'] else 'NO'} |")
    for r in results:
        if "sweep" in r:
            print()
            print("newstag's MIN_CONFIDENCE, over every labelled text above (junk apart):")
            print("| MIN_CONFIDENCE | right | und | wrong | junk called und |")
            print("|---|---|---|---|---|")
            for threshold, shares in r["sweep"].items():
                print(f"| {threshold} | " + " | ".join(f"{share:.4f}" for share in shares) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.language", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=800, help="texts per language (800 = all of SIB-200's)")
    parser.add_argument("--only", nargs="+", choices=CANDIDATES, default=CANDIDATES)
    parser.add_argument("--splitters", action="store_true", help="compare sentence splitters instead")
    parser.add_argument("--worker", choices=CANDIDATES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    needed = ["sib200-multi-train.jsonl", "sib200-eng.jsonl", "masakhanews-fra-dev.jsonl", "bbc-news-train.jsonl",
              "ag-news-test.jsonl", "inshorts-news.jsonl"]
    missing = [name for name in needed if not (args.data / name).is_file()]
    if missing:
        print(f"bench.language: {args.data} lacks {', '.join(missing)}; this benchmark needs the shared data "
              "beside the repository (../shared/data).", file=sys.stderr)
        return 2
    if args.splitters:
        from .splitters import compare_splitters

        compare_splitters(args.data)
        return 0
    if args.worker:
        print(json.dumps(run_candidate(args.worker, args.data, args.limit)))
        return 0
    results = []
    for name in args.only:
        command = [sys.executable, "-m", "bench.language", "--worker", name, "--data", str(args.data),
                   "--limit", str(args.limit)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{name}: failed (is it installed?)\n{done.stderr.strip()[-500:]}", file=sys.stderr)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"measured {name}", file=sys.stderr)
    if not results:
        return 1
    print_tables(results)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, "bench.language"))
