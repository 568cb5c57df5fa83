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
