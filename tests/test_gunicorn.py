"""The production server: real gunicorn with gunicorn.conf.py on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def start_gunicorn(port: int, settings: dict[str, str]) -> subprocess.Popen:
    """The production server on 127.0.0.1:``port`` with extra settings; its output on stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env={**os.environ, "PORT": str(port), **settings}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def stop(server: subprocess.Popen) -> str:
    """SIGTERM (as docker stop and Kubernetes send it), then its output; killed after 60 s."""
    server.send_signal(signal.SIGTERM)
    try:
        return server.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        server.kill()
        return server.communicate()[0]


def wait_until_answered(server: subprocess.Popen, url: str, timeout: float = 120) -> int | None:
    """The status ``url`` answers once it answers 200 (polling while the server runs), else the last one."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read()  # type: ignore[union-attr]
        try:
            status, _ = get(url, timeout=2)
        except OSError:
            status = None
        if status == 200:
            break
        time.sleep(0.5)
    return status


@pytest.mark.slow
def test_gunicorn_serves_the_seed_sums_metrics_across_workers_and_stops_cleanly(seed_text):
    port = free_port()
    server = start_gunicorn(port, {"NEWSTAG_WORKERS": "2", "NEWSTAG_THREADS": "2"})
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_answered(server, f"{base}/readyz") == 200, "gunicorn never became ready"

        status, body = post_json(f"{base}/v1/classify", {"text": seed_text})
        assert status == 200
        labels = {t["label"] for t in body["topics"]}
        assert {"bilateral relations", "economy", "COP29", "demining"} <= labels

        # A chunked body over the limit is 413, not a truncated body read as bad JSON.
        big = json.dumps({"text": "word " * 1_000_000}).encode()  # 5 MB: over the 4 MB limit
        chunked = urllib.request.Request(f"{base}/v1/classify", data=iter([big[:700_000], big[700_000:]]),
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "Transfer-Encoding": "chunked"})
        try:
            urllib.request.urlopen(chunked, timeout=30)
            raise AssertionError("an oversized chunked body was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 413 and error.headers["Content-Type"] == "application/problem+json"

        # What gunicorn answers before the app sees the request is problem details too, not an HTML page.
        status, raw = get(f"{base}/v1/taxonomies?{'q' * 5000}")
        assert status == 414 and json.loads(raw)["status"] == 414, raw[:200]

        for _ in range(7):  # spread over both workers by the kernel's accept queue
            post_json(f"{base}/v1/classify", {"text": "Rain is expected.", "evidence": False})
        status, metrics = get(f"{base}/metrics")
        text = metrics.decode()
        assert status == 200
        assert 'newstag_requests_total{endpoint="/v1/classify",method="POST",status="200"} 8.0' in text
        assert "newstag_documents_total 8.0" in text
    finally:
        output = stop(server)
    assert server.returncode == 0, output
    assert "Shutting down: Master" in output
    assert "Traceback" not in output
    # Workers stop without the abort Python's teardown met with torch's threads still running.
    assert "SIGABRT" not in output and "terminate called" not in output, output
    # newstag's own lines (model ready) reach the log, with time, pid and level.
    assert re.search(r"^\[[^]]+\] \[\d+\] \[INFO\] newstag.runtime: model ready", output, re.M), output
    access = [json.loads(line) for line in output.splitlines() if line.startswith('{"time"')]
    assert any(line["path"] == "/v1/classify" and line["documents"] == 1 for line in access)


@pytest.mark.parametrize("breakage, message", [
    ("missing", "does not exist"),
    ("truncated", "truncated or corrupt"),
    ("no-weights", "weights file is missing"),
])
def test_gunicorn_refuses_to_start_on_a_broken_model_with_one_line(tmp_path, tiny_model_dir, breakage, message):
    import shutil

    model = tmp_path / "model"
    if breakage != "missing":
        shutil.copytree(tiny_model_dir, model)
        weights = model / "model.safetensors"
        if breakage == "truncated":
            weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        else:
            weights.unlink()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "NEWSTAG_MODEL": str(model), "TMPDIR": str(scratch)}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{free_port()}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("newstag: cannot start:")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
    assert not list(scratch.iterdir())  # its metrics and run directories did not outlive it


def test_a_model_that_passes_the_checks_but_cannot_load_stops_the_server_with_status_3(tmp_path, tiny_model_dir):
    """Its config.json disagrees with its weights: the master's checks pass, each worker's load
    fails. The workers answered /healthz 200 and /readyz 503 for ever (no probe restarted them);
    now the server stops with gunicorn's status for a worker that failed to boot, saying why."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    config = json.loads((model / "config.json").read_text())
    config["intermediate_size"] *= 2
    (model / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "NEWSTAG_MODEL": str(model), "NEWSTAG_WORKERS": "2", "NEWSTAG_MULTILINGUAL_MODEL": "off",
           "NEWSTAG_RUN_DIR": str(tmp_path / "run")}
    (tmp_path / "run").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{free_port()}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("newstag: cannot start:")]
    assert lines and "model failed to load: RuntimeError" in lines[0], result.stderr[-3000:]
    assert "HaltServer" not in result.stderr  # two workers failing together stop it once
    assert not list((tmp_path / "run").iterdir())  # the next start in this directory is not called failed


def test_a_taxonomy_broken_while_serving_cannot_stop_a_restarted_worker(tmp_path, tiny_model_dir):
    """The worker that replaced a killed one re-read the taxonomies: a file broken since (a
    ConfigMap edited in place) failed its boot, and gunicorn shut the whole server down."""
    taxonomies = tmp_path / "taxonomies"
    taxonomies.mkdir()
    desk = taxonomies / "desk.yaml"
    desk.write_text("name: desk\ntopics:\n  - name: City Council\n  - name: Schools\n")
    port = free_port()
    server = start_gunicorn(port, {"NEWSTAG_MODEL": str(tiny_model_dir), "NEWSTAG_WORKERS": "1",
                                   "NEWSTAG_TAXONOMIES_DIR": str(taxonomies), "NEWSTAG_TAXONOMY": "desk"})
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_answered(server, f"{base}/readyz") == 200, "gunicorn never became ready"
        desk.write_text(desk.read_text() + "  - name: City Council\n")  # a duplicate topic: refused if read
        worker = int(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()[0])
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
            if children and int(children[0]) != worker:
                break
            time.sleep(0.2)
        assert wait_until_answered(server, f"{base}/readyz") == 200
        status, body = get(f"{base}/v1/taxonomies/desk")
        assert status == 200 and [t["name"] for t in json.loads(body)["topics"]] == ["City Council", "Schools"]
    finally:
        output = stop(server)
    assert "Worker failed to boot" not in output and "duplicate topic name" not in output, output


def test_the_log_says_when_a_file_replaces_a_built_in_taxonomy(tmp_path, tiny_model_dir):
    """docs/taxonomies.md: a file named as a built-in one replaces it "and the log says so". The
    master reads the taxonomies (workers serve its reading) before newstag's log lines had a
    handler: the line was dropped, and an operator could not tell that `news` was not the built-in."""
    taxonomies = tmp_path / "taxonomies"
    taxonomies.mkdir()
    (taxonomies / "news.yaml").write_text("name: news\ntopics:\n  - name: local\n  - name: weather\n")
    port = free_port()
    server = start_gunicorn(port, {"NEWSTAG_MODEL": str(tiny_model_dir), "NEWSTAG_WORKERS": "2",
                                   "NEWSTAG_MULTILINGUAL_MODEL": "off", "NEWSTAG_TAXONOMIES_DIR": str(taxonomies)})
    try:
        assert wait_until_answered(server, f"http://127.0.0.1:{port}/readyz") == 200, "gunicorn never became ready"
    finally:
        output = stop(server)
    replaced = [line for line in output.splitlines() if "replaces the built-in one" in line]
    assert len(replaced) == 1, output  # once, from the master: not dropped, not repeated by each worker
    assert "[INFO] newstag.taxonomy: taxonomy 'news' from " in replaced[0] and str(taxonomies) in replaced[0]
    # Each worker's own lines once, not twice (a second handler): /readyz answers once one worker is
    # ready, so the other may not have said so yet when the server stops.
    ready = Counter(line.split("]")[1] for line in output.splitlines() if "model ready" in line)
    assert ready and set(ready.values()) == {1}, output


def test_a_clean_stop_leaves_every_correction_in_the_sqlite_file_itself(tmp_path, tiny_model_dir):
    """Workers leave with os._exit, which skipped SQLite's checkpoint at the last close: after a
    clean stop feedback.db held no table, the corrections all in feedback.db-wal beside it."""
    database = tmp_path / "data" / "feedback.db"
    port = free_port()
    server = start_gunicorn(port, {"NEWSTAG_MODEL": str(tiny_model_dir), "NEWSTAG_WORKERS": "2",
                                   "NEWSTAG_MULTILINGUAL_MODEL": "off", "NEWSTAG_DATABASE_URL": f"sqlite:///{database}"})
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_answered(server, f"{base}/readyz") == 200, "gunicorn never became ready"
        for i in range(20):  # spread over both workers by the kernel's accept queue
            assert post_json(f"{base}/v1/feedback", {"text": f"Article {i}.", "labels": ["economy"],
                                                     "taxonomy": "news"})[0] == 201
    finally:
        output = stop(server)
    assert server.returncode == 0, output
    assert "did not close" not in output and "no checkpoint" not in output, output
    copy = tmp_path / "copy.db"
    copy.write_bytes(database.read_bytes())  # the file alone, as a plain cp takes it
    with sqlite3.connect(copy) as connection:
        assert connection.execute("SELECT count(*) FROM newstag_feedback").fetchone() == (20,)


def test_a_run_directory_the_operator_names_is_used_and_kept(tmp_path):
    script = "import os, service.gunicorn_config as c; print(c._run_dir, os.environ['NEWSTAG_RUN_DIR'])"
    given = tmp_path / "run"
    env = {**os.environ, "NEWSTAG_RUN_DIR": str(given), "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out == [str(given)] * 2 and given.is_dir()  # it was silently replaced by a temporary one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the metrics directory went at exit


def test_clients_that_keep_their_end_open_after_connection_close_do_not_stall_the_worker(tiny_model_dir):
    """gunicorn lingers up to 2 s on each connection it closes, until the client closes its end, and
    did so on the worker's one main thread: five such clients kept /healthz unanswered for 10 s,
    past a liveness probe's time limit (found under a flood of 32 clients)."""
    port = free_port()
    server = start_gunicorn(port, {"NEWSTAG_MODEL": str(tiny_model_dir), "NEWSTAG_MULTILINGUAL_MODEL": "off",
                                   "NEWSTAG_WORKERS": "1"})
    base = f"http://127.0.0.1:{port}"
    lingering: list[socket.socket] = []
    try:
        assert wait_until_answered(server, f"{base}/healthz") == 200
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            lingering.append(sock)
        for sock in lingering:
            sock.settimeout(10)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")  # answered; the client keeps its end open
        started = time.monotonic()
        assert get(f"{base}/healthz", timeout=10)[0] == 200
        assert time.monotonic() - started < 1.5
    finally:
        for sock in lingering:
            sock.close()
        stop(server)


def test_a_request_in_flight_at_sigterm_is_answered_after_connections_were_closed(tiny_model_dir):
    """Connections the worker closed earlier must not count against the ones still open: with each
    closed one counted twice, a stop dropped the request in flight at once, unanswered."""
    port = free_port()
    server = start_gunicorn(port, {"NEWSTAG_MODEL": str(tiny_model_dir), "NEWSTAG_MULTILINGUAL_MODEL": "off",
                                   "NEWSTAG_WORKERS": "1"})
    base = f"http://127.0.0.1:{port}"
    body = json.dumps({"text": "Rates rose again."}).encode()
    try:
        assert wait_until_answered(server, f"{base}/readyz") == 200
        for _ in range(3):  # answered with Connection: close, and closed by the worker
            assert get(f"{base}/healthz")[0] == 200
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
            time.sleep(0.5)  # in the worker's hands, its body still arriving
            server.send_signal(signal.SIGTERM)
            time.sleep(1)
            sock.sendall(body[5:])
            sock.settimeout(30)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    finally:
        stop(server)


@pytest.mark.slow
def test_clients_that_stop_halfway_through_their_headers_cannot_hold_every_thread():
    """25 connections that sent half a header and stopped held every thread of a worker:
    /healthz went unanswered for as long as they stayed open."""
    port = free_port()
    server = start_gunicorn(port, {"NEWSTAG_WORKERS": "1", "NEWSTAG_THREADS": "4", "NEWSTAG_MAX_QUEUE": "2",
                                   "NEWSTAG_CLIENT_TIMEOUT": "3"})
    base = f"http://127.0.0.1:{port}"
    stalled: list[socket.socket] = []
    try:
        assert wait_until_answered(server, f"{base}/healthz") == 200
        for _ in range(12):  # three times the worker's threads: all must expire within the limit, not in turns
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            stalled.append(sock)
        time.sleep(1)
        answered = None
        limit = time.monotonic() + 5.5  # the 3 s limit runs from each connection's accept, queued or not
        while time.monotonic() < limit and answered is None:
            try:
                answered = get(f"{base}/healthz", timeout=2)[0]
            except OSError:
                pass
        assert answered == 200
        # The stalled connections were closed by the server, not left to their clients.
        stalled[0].settimeout(10)
        assert stalled[0].recv(1024) == b""
        # A body that stops arriving: 408 after the same time, the thread free again.
        body = socket.create_connection(("127.0.0.1", port))
        stalled.append(body)
        body.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"text\": ")
        body.settimeout(20)
        answer = b""
        while chunk := body.recv(4096):  # until the server closes it
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"request-timeout" in answer
    finally:
        for sock in stalled:
            sock.close()
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0]
    assert "no complete request headers in 3 s" in output


def test_a_header_line_without_a_colon_is_neither_logged_nor_answered_whole():
    """gunicorn logged a header line with no colon whole ("Invalid request from ip=...: Invalid
    HTTP Header: 'Authorization Bearer <key>'") and put it in its answer: the key was in the
    error log. The worker keeps the name the line would have had; real header names that
    gunicorn names (a bad Content-Length) are left as they were."""
    from gunicorn.http.errors import InvalidHeader

    from service.gunicorn_worker import ThreadWorker

    class Log:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def warning(self, message: str, *args: object) -> None:
            self.lines.append(message % args if args else message)

    for line, shown in (("Authorization Bearer sekrit-key-123", "Authorization"),
                        ("Authorization=sekrit-key-123", "Authorization"), ("CONTENT-LENGTH", "CONTENT-LENGTH")):
        worker = ThreadWorker.__new__(ThreadWorker)  # handle_error needs only its log
        worker.log = Log()
        ours, theirs = socket.socketpair()
        with ours, theirs:
            worker.handle_error(None, ours, ("127.0.0.1", 40000), InvalidHeader(line))
            ours.shutdown(socket.SHUT_WR)
            answer = theirs.recv(65536).decode()
        assert answer.startswith("HTTP/1.1 400") and shown in answer
        assert len(worker.log.lines) == 1 and shown in worker.log.lines[0]
        assert "sekrit" not in worker.log.lines[0] and "sekrit" not in answer
