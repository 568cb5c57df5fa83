"""Cross-request micro-batching, precision and the document cache: mechanics on fakes and
the tiny model, agreement with unbatched fp32 on the real one."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from service.config import Settings
from service.engine import Tagger
from service.engine.batching import MicroBatcher, length_batches
from service.engine.encoder import PAD_TO, EncoderOptions, SentenceEncoder
from service.engine.precision import Precision
from service.errors import ConfigError, DeadlineExceeded


def test_length_batches_cover_every_index_once_within_the_budget():
    lengths = [5, 300, 17, 17, 120, 64, 2, 256, 90, 33]
    batches = list(length_batches(lengths, 512))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) * max(lengths[i] for i in batch) <= 512 or len(batch) == 1
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)  # length order, so padding stays small


def test_length_batches_put_one_width_in_a_batch_unless_asked_to_mix():
    widths = [64, 32, 96, 64, 32, 64]
    assert [[widths[i] for i in b] for b in length_batches(widths, 4096)] == [[32, 32], [64, 64, 64], [96]]
    assert [[widths[i] for i in b] for b in length_batches(widths, 4096, one_length=False)] == [
        [32, 32, 64, 64, 64, 96]]


class GatedModel:
    """A fake model: each row's "hidden states" are its token ids; the first call can be held."""

    def __init__(self, fail_on: int | None = None):
        self.batches: list[list[list[int]]] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail_on = fail_on

    def __call__(self, ids: list[list[int]]) -> torch.Tensor:
        self.batches.append(ids)
        self.entered.set()
        assert self.gate.wait(10)
        if self.fail_on is not None and any(self.fail_on in seq for seq in ids):
            raise RuntimeError("model exploded")
        width = max(len(x) for x in ids)
        states = torch.zeros(len(ids), width, 1)
        for row, seq in enumerate(ids):
            states[row, : len(seq), 0] = torch.tensor(seq, dtype=torch.float)
        return states


def _sum_pool(_: int, states: torch.Tensor) -> float:
    return float(states.sum())


def _call_in_thread(batcher: MicroBatcher, sequences, out: dict, key, seconds=None) -> threading.Thread:
    def call():
        try:
            deadline = None if seconds is None else time.monotonic() + seconds
            out[key] = batcher.run(sequences, _sum_pool, deadline)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            out[key] = exc

    thread = threading.Thread(target=call)
    thread.start()
    return thread


def test_concurrent_callers_share_one_forward_pass_and_get_their_own_results():
    model = GatedModel()
    # every sequence pads to one width, as the encoder's do within a step of PAD_TO
    batcher = MicroBatcher(model, max_batch_tokens=10_000, width=lambda n: 8)
    out: dict = {}
    first = _call_in_thread(batcher, [[1, 1]], out, "first")
    assert model.entered.wait(5)  # the model is busy with the first caller...
    others = [_call_in_thread(batcher, [[k] * k, [k]], out, k) for k in (2, 3, 4)]
    time.sleep(0.2)  # ...while three more queue up
    model.gate.set()
    for thread in [first, *others]:
        thread.join(10)
    assert out["first"] == [2.0]
    assert out[2] == [4.0, 2.0] and out[3] == [9.0, 3.0] and out[4] == [16.0, 4.0]
    assert len(model.batches) == 2  # the three waiting callers went through in one batch
    assert sorted(len(x) for x in model.batches[1]) == [1, 1, 1, 2, 3, 4]


def test_rounds_take_the_earliest_deadlines_first_and_stop_at_their_budget():
    """One round of everything queued made a burst of requests all finish (or all run out of
    time) together; rounds of ROUND_BATCHES batches' tokens, earliest deadline first, let the
    first ones finish first, and a request's next call goes ahead of later requests' first ones."""
    from service.engine.batching import ROUND_BATCHES
    model = GatedModel()
    batcher = MicroBatcher(model, max_batch_tokens=16, width=lambda n: 8)  # two rows a batch
    per_job = ROUND_BATCHES * 16 // 8 * 5 // 8  # sequences per call: five eighths of a round's budget
    out: dict = {}
    first = _call_in_thread(batcher, [[9]], out, "first")
    assert model.entered.wait(5)  # the model is busy while three calls queue, latest deadline first
    calls = [_call_in_thread(batcher, [[k]] * per_job, out, k, seconds=s) for k, s in ((1, 30), (2, 10), (3, 20))]
    time.sleep(0.2)
    model.gate.set()
    for thread in [first, *calls]:
        thread.join(10)
    assert all(out[k] == [float(k)] * per_job for k in (1, 2, 3))
    order = [seq[0] for batch in model.batches[1:] for seq in batch]
    assert order == [2] * per_job + [3] * per_job + [1] * per_job  # one call a round, by deadline


def test_a_caller_past_its_deadline_gets_an_error_and_is_never_computed():
    model = GatedModel()
    batcher = MicroBatcher(model, max_batch_tokens=10_000)
    out: dict = {}
    first = _call_in_thread(batcher, [[1]], out, "first")
    assert model.entered.wait(5)
    started = time.monotonic()
    late = _call_in_thread(batcher, [[7, 7, 7]], out, "late", seconds=0.2)
    late.join(5)
    assert isinstance(out["late"], DeadlineExceeded) and time.monotonic() - started < 2
    model.gate.set()
    first.join(5)
    follow_up = batcher.run([[5]], _sum_pool)  # the thread goes on serving
    assert follow_up == [5.0]
    assert all([7, 7, 7] not in batch for batch in model.batches)


def test_a_model_error_reaches_its_callers_and_the_batching_thread_survives():
    model = GatedModel(fail_on=9)
    model.gate.set()
    batcher = MicroBatcher(model, max_batch_tokens=10_000)
    with pytest.raises(RuntimeError, match="exploded"):
        batcher.run([[9, 9]], _sum_pool)
    assert batcher.run([[3]], _sum_pool) == [3.0]


def _encoder(model_dir, **options) -> SentenceEncoder:
    return SentenceEncoder(model_dir, max_tokens=64, options=EncoderOptions(max_batch_tokens=256, **options))


TEXTS = [
    "Short one.",
    "The central bank raised interest rates again. Markets fell sharply in early trading. " * 6,
    "Rain is expected tomorrow across the north. Farmers welcomed the forecast. " * 3,
    "A single sentence about football that is a little longer than the first text here.",
]


def test_batched_concurrent_encoding_matches_unbatched(tiny_model_dir):
    plain = _encoder(tiny_model_dir)
    batched = _encoder(tiny_model_dir, batching=True)
    expected = plain.encode_documents([plain.prepare(t) for t in TEXTS])
    results: dict[int, object] = {}

    def encode(i: int) -> None:
        results[i] = batched.encode_documents([batched.prepare(TEXTS[i])])[0]

    threads = [threading.Thread(target=encode, args=(i,)) for i in range(len(TEXTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for i, want in enumerate(expected):
        got = results[i]
        assert np.allclose(got.windows, want.windows, atol=1e-5)
        assert np.allclose(got.sentences, want.sentences, atol=1e-5)


def test_the_document_cache_skips_the_model_for_a_repeated_text(tiny_model_dir):
    encoder = _encoder(tiny_model_dir, document_cache=2)
    calls = []
    run = encoder._run_batch
    encoder._run_batch = lambda ids: (calls.append(len(ids)), run(ids))[1]  # type: ignore[method-assign]
    first = encoder.encode_documents([encoder.prepare(TEXTS[1])])[0]
    assert calls
    calls.clear()
    again = encoder.encode_documents([encoder.prepare(TEXTS[1])])[0]
    assert calls == [] and np.array_equal(again.windows, first.windows)
    for text in TEXTS[2:]:  # two more texts push the first out of a two-entry cache
        encoder.encode_documents([encoder.prepare(text)])
    assert len(encoder.documents) == 2
    encoder.encode_documents([encoder.prepare(TEXTS[1])])
    assert calls


def test_the_document_cache_is_bounded_by_bytes_too(tiny_model_dir):
    """Bounded by count only, 256 texts of 50,000 short sentences would have held 19 GB."""
    from service.engine import encoder as encoder_module
    from service.engine.cache import BoundedCache

    cache = BoundedCache[str, bytes](10, max_bytes=100, size=len)
    cache.put("a", b"x" * 60)
    cache.put("b", b"x" * 30)
    cache.put("c", b"x" * 30)  # over 100 bytes: the oldest goes
    assert cache.get("a") is None and cache.get("b") and cache.get("c") and cache.nbytes == 60
    cache.put("huge", b"x" * 101)  # larger than the whole budget: not kept, nothing pushed out
    assert cache.get("huge") is None and len(cache) == 2
    cache.put("b", b"x" * 10)  # replaced: its old size is given back
    assert cache.nbytes == 40

    encoder = _encoder(tiny_model_dir, document_cache=256)
    many = "。".join("一" for _ in range(3000))
    one = encoder.encode_documents([encoder.prepare(many)])[0]
    assert encoder.documents.nbytes == one.windows.nbytes + one.sentences.nbytes <= encoder_module.DOCUMENT_CACHE_BYTES


def test_an_unknown_precision_is_a_config_error():
    with pytest.raises(ConfigError, match="NEWSTAG_PRECISION"):
        Precision("fp8")
    with pytest.raises(ConfigError, match="NEWSTAG_PRECISION"):
        Settings.from_env({"NEWSTAG_PRECISION": "half"})
    with pytest.raises(ConfigError, match="NEWSTAG_BATCHING"):
        Settings.from_env({"NEWSTAG_BATCHING": "sometimes"})
    assert Settings.from_env({"NEWSTAG_BATCHING": "off"}).batching is False


def test_int8_quantizes_the_linear_layers(tiny_model_dir):
    encoder = _encoder(tiny_model_dir, precision="int8")
    plain = [m for m in encoder.model.modules() if type(m) is torch.nn.Linear]
    quantized = [m for m in encoder.model.modules() if "quantized" in type(m).__module__]
    assert not plain and quantized
    vectors = encoder.encode_texts(["int8 still embeds text"])
    assert vectors.shape == (1, encoder.dim) and np.isclose(np.linalg.norm(vectors), 1.0, atol=1e-4)


# torch's dynamic int8 moves sentence vectors to cosine 0.91 of fp32's and loses demining
# on the seed article (0.46 with session 7's calibration); ONNX Runtime's per-channel int8
# (0.99) keeps it (0.56): docs/benchmarks.md "Speed II". The int8 kept is ONNX's.
@pytest.mark.parametrize(("precision", "runtime", "mission"), [
    ("bf16", "torch", {"bilateral relations", "economy", "COP29", "demining"}),
    ("int8", "onnx", {"bilateral relations", "economy", "COP29", "demining"}),
    ("int8", "torch", {"bilateral relations", "economy", "COP29"}),
])
def test_reduced_precision_keeps_the_seed_article_topics(precision, runtime, mission, seed_text, tagger,
                                                          tmp_path_factory):
    onnx_dir = tmp_path_factory.mktemp("onnx")
    reduced = Tagger.load(Settings.from_env({}, precision=precision, runtime=runtime,
                                            onnx_dir=onnx_dir).engine_options())
    [every] = tagger.tag([seed_text], threshold=0.0, evidence=False)
    fp32 = {t.label: t.score for t in every.topics}
    full = {label for label, score in fp32.items() if score >= 0.5}
    [low] = reduced.tag([seed_text], threshold=0.0, evidence=False)
    scores = {t.label: t.score for t in low.topics}
    got = {label for label, score in scores.items() if score >= 0.5}
    assert mission <= got
    # Only borderline topics may differ: within 0.1 of the threshold in fp32 or in this precision.
    borderline = [min(abs(fp32[label] - 0.5), abs(scores[label] - 0.5)) <= 0.1 for label in got ^ full]
    assert all(borderline), (got ^ full, fp32, scores)


def test_auto_precision_is_bf16_only_with_native_bf16(monkeypatch):
    from service.engine import precision

    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    assert Precision("auto").name == "bf16"
    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    assert Precision("auto").name == "fp32" and Precision("auto").requested == "auto"
    assert Settings.from_env({}).precision == "auto"


@pytest.mark.parametrize("batching", [False, True])
def test_every_forward_pass_keeps_within_the_padded_token_budget(tiny_model_dir, batching):
    """Batches are sized by padded width, so short texts padded to 32 never overrun the budget."""
    encoder = _encoder(tiny_model_dir, batching=batching)
    shapes: list[tuple[int, int]] = []
    run = encoder._run_batch

    def record(ids):
        shapes.append((len(ids), encoder._width(max(len(x) for x in ids))))
        return run(ids)

    if encoder.batcher is not None:
        encoder.batcher.run_batch = record
    else:
        encoder._run_batch = record  # type: ignore[method-assign]
    encoder.encode_texts([f"news about topic {i}" for i in range(100)])  # ~7 tokens each, padded to 32
    encoder.encode_documents([encoder.prepare(t) for t in TEXTS])
    assert len(shapes) >= 100 * 32 // 256 and all(rows * width <= 256 for rows, width in shapes)
    assert all(width % PAD_TO == 0 or width == encoder.max_tokens for _, width in shapes)


def test_close_finishes_the_queued_calls_ends_the_thread_and_later_calls_run_in_the_callers_thread():
    """The batching thread ran forever, holding the model: a model a reload replaced was never freed."""
    model = GatedModel()
    batcher = MicroBatcher(model, max_batch_tokens=10_000)
    out: dict = {}
    first = _call_in_thread(batcher, [[1, 1]], out, "first")
    assert model.entered.wait(5)  # the model is busy with the first call...
    queued = _call_in_thread(batcher, [[2, 2]], out, "queued")
    while not batcher._queue:  # ...and the second one waits in the queue when close() comes
        time.sleep(0.01)
    batcher.close()
    model.gate.set()
    first.join(10)
    queued.join(10)
    assert out == {"first": [2.0], "queued": [4.0]}
    thread = batcher._thread
    assert thread is not None
    thread.join(10)
    assert not thread.is_alive()
    callers: list[str] = []
    model.batches.clear()
    real = model.__call__

    def record(ids):
        callers.append(threading.current_thread().name)
        return real(ids)

    batcher.run_batch = record
    assert batcher.run([[3], [4, 4]], _sum_pool) == [3.0, 8.0]  # a call after close still gets its answer
    assert callers and set(callers) == {threading.current_thread().name}
    assert batcher._thread is thread  # no new thread
    batcher.close()  # twice is fine
