"""The benchmark scripts keep working: CI runs their --quick modes (the figures come from full runs)."""

from __future__ import annotations

from bench import peer


def test_peer_benchmark_quick(capsys):
    assert peer.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "RANDOM weights" in out and "single-label" in out and "multi-label" in out and "x\n" in out


def test_ceiling_benchmark_quick(capsys):
    from bench import ceiling

    assert ceiling.main(["--quick", "--tokens", "64"]) == 0
    out = capsys.readouterr().out
    assert "GFLOP per window" in out and "fp32" in out and "bf16" in out


def test_throughput_benchmark_quick(capsys):
    """Starts the real gunicorn server on loopback, drives it briefly, and stops it."""
    from bench import throughput

    assert throughput.main(["--quick", "--data", "seeds/examples.jsonl"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("fp32")]
    assert [row[2] for row in rows[:2]] == ["1", "2"]
    assert all(int(row[3]) > 0 and row[4] == "0" for row in rows[:2])  # requests done, none failed
    assert "one 500-word article" in out


def test_soak_quick_has_no_failures(capsys):
    from bench import soak

    assert soak.main(["--quick", "--data", "seeds/examples.jsonl"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert out.count("check PASS") == 3 and "FAIL" not in out


def test_a_killed_worker_is_replaced_and_only_its_requests_in_flight_fail(capsys):
    from bench import soak

    status = soak.main(["--quick", "--workers", "2", "--kill-worker-at", "2", "--data", "seeds/examples.jsonl"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "killed worker" in out and out.count("check PASS") == 4


def test_padding_benchmark_quick(capsys):
    from bench import padding
    from service.engine import encoder

    assert padding.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "exact" in out and f"step {encoder.PAD_TO}" in out and encoder.PAD_TO == 32  # restored
