from __future__ import annotations

from pathlib import Path

import pytest

from service.config import Settings
from service.engine import ConfigError


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings.engine == "embedding" and settings.model is None and settings.taxonomy == "news"


def test_environment_overrides_defaults_and_overrides_win():
    env = {"NEWSTAG_MODEL": "~/models/x", "NEWSTAG_THRESHOLD": "0.3", "NEWSTAG_MAX_DOCUMENTS": "5",
           "NEWSTAG_TAXONOMY": "iptc-top", "NEWSTAG_KEYWORD_WEIGHT": ""}
    settings = Settings.from_env(env, max_documents=9)
    assert settings.model == Path("~/models/x").expanduser()
    assert settings.threshold == 0.3 and settings.max_documents == 9 and settings.taxonomy == "iptc-top"
    assert settings.keyword_weight == Settings().keyword_weight  # blank means default


@pytest.mark.parametrize("env, message", [
    ({"NEWSTAG_THRESHOLD": "high"}, "NEWSTAG_THRESHOLD='high' is not a number"),
    ({"NEWSTAG_THRESHOLD": "1.5"}, "NEWSTAG_THRESHOLD must be between 0 and 1"),
    ({"NEWSTAG_ENGINE": "gpt"}, "NEWSTAG_ENGINE must be"),
    ({"NEWSTAG_ENGINE": "nli"}, "needs NEWSTAG_NLI_MODEL"),
    ({"NEWSTAG_MAX_DOCUMENTS": "0"}, "NEWSTAG_MAX_DOCUMENTS must be a positive integer"),
    ({"NEWSTAG_MAX_TOKENS": "4"}, "at least 16"),
    ({"NEWSTAG_RUNTIME": "onnx", "NEWSTAG_PRECISION": "bf16"}, "NEWSTAG_PRECISION=bf16 has no ONNX graph"),
    ({"NEWSTAG_BATCHING": "maybe"}, "NEWSTAG_BATCHING='maybe' is not one of 0, 1, false, no, off, on, true, yes"),
    ({"NEWSTAG_MAX_QUEUE": "lots"}, "NEWSTAG_MAX_QUEUE='lots' is not a whole number"),
    # Each of these was accepted, then failed every request or the model's load.
    ({"NEWSTAG_REQUEST_TIMEOUT": "inf"}, "NEWSTAG_REQUEST_TIMEOUT must be a number of seconds above 0"),
    ({"NEWSTAG_REQUEST_TIMEOUT": "nan"}, "NEWSTAG_REQUEST_TIMEOUT must be a number of seconds above 0"),
    ({"NEWSTAG_TORCH_THREADS": "-2"}, "NEWSTAG_TORCH_THREADS must be at least 1"),
    # Set, but naming no key: serving without keys would let everyone in.
    ({"NEWSTAG_API_KEYS": " , "}, "NEWSTAG_API_KEYS names no key"),
    ({"NEWSTAG_ADMIN_KEYS": ","}, "NEWSTAG_ADMIN_KEYS names no key"),
    ({"NEWSTAG_NLI_HYPOTHESIS": "This is news."}, "NEWSTAG_NLI_HYPOTHESIS must hold {} once"),
    # Early builds' default, which meant one hit's strength in a noisy-OR: the message says so.
    ({"NEWSTAG_KEYWORD_WEIGHT": "0.5"}, "early builds read it as one hit's strength in a noisy-OR"),
])
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Settings.from_env(env)


def test_the_feedback_database_defaults_to_sqlite_under_data_and_is_set_by_the_environment():
    assert Settings.from_env({}).database_url == "sqlite:///data/feedback.db"
    url = "postgresql://newstag@db.internal/newstag"
    assert Settings.from_env({"NEWSTAG_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", " sqlite+pysqlite:///:memory: ", "sqlite:///",
                                 "sqlite:///file::memory:?cache=shared&uri=true",
                                 "sqlite:///file:fb?mode=memory&cache=shared&uri=true"])
def test_an_in_memory_sqlite_database_is_refused(url):
    # Each connection had an empty database of its own: 201s with repeated ids, then 503s, nothing kept.
    with pytest.raises(ConfigError, match=r"^NEWSTAG_DATABASE_URL=.* is an in-memory SQLite database"):
        Settings.from_env({"NEWSTAG_DATABASE_URL": url})


@pytest.mark.parametrize("url", ["sqlite:///data/feedback.db", "sqlite:////srv/memory.db", "sqlite:///:memory:.db",
                                 "sqlite:///file:/archive/feedback.db?immutable=1&uri=true",
                                 "postgresql://u:pw@db/memory"])
def test_files_and_servers_are_accepted_as_the_feedback_database(url):
    assert Settings.from_env({"NEWSTAG_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize("name, value", [("NEWSTAG_WORKERS", "abc"), ("NEWSTAG_WORKERS", "0"),
                                         ("NEWSTAG_THREADS", "0"), ("NEWSTAG_TORCH_THREADS", "x"),
                                         ("PORT", "99999")])
def test_the_servers_own_settings_are_refused_in_one_line_naming_them(name, value):
    """They were bare int()s: 'integer division or modulo by zero', or a traceback from bind()."""
    import os
    import subprocess
    import sys

    env = {**os.environ, name: value}
    done = subprocess.run([sys.executable, "-c", "import service.gunicorn_config"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"newstag: cannot start: {name}={value!r} must be a whole number from 1 to "
        f"{ {'PORT': 65535, 'NEWSTAG_WORKERS': 1024, 'NEWSTAG_THREADS': 10_000}.get(name, 4096)}"]


def test_the_server_keeps_threads_beyond_the_queue_for_health_checks_and_503s():
    """With threads == NEWSTAG_MAX_QUEUE (16 and 16) a flood held every thread: /healthz timed out."""
    import os
    import subprocess
    import sys

    code = "import service.gunicorn_config as g, shutil; print(g.threads); shutil.rmtree(g._metrics_dir); " \
           "shutil.rmtree(g._run_dir)"
    for env, threads in (({}, "24"), ({"NEWSTAG_MAX_QUEUE": "40"}, "48"), ({"NEWSTAG_THREADS": "10"}, "10")):
        clean = {k: v for k, v in os.environ.items() if k not in ("NEWSTAG_MAX_QUEUE", "NEWSTAG_THREADS")}
        done = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0 and done.stdout.strip() == threads, done.stderr
        assert ("is not above NEWSTAG_MAX_QUEUE" in done.stderr) == (threads == "10")


def test_start_up_refusals_name_their_variable(tmp_path):
    """An unknown NEWSTAG_TAXONOMY, a file as NEWSTAG_TAXONOMIES_DIR ("does not exist", though it
    did) or as NEWSTAG_RUN_DIR (gunicorn's "Error: [Errno 17] File exists") named no variable."""

    from service.errors import NewstagError
    from service.preflight import check_startup

    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(NewstagError) as refused:
        check_startup(Settings.from_env({"NEWSTAG_TAXONOMY": "desk"}))
    assert str(refused.value).startswith("NEWSTAG_TAXONOMY='desk': unknown taxonomy 'desk' (known: ")
    with pytest.raises(NewstagError) as refused:
        check_startup(Settings.from_env({"NEWSTAG_TAXONOMIES_DIR": str(a_file)}))
    assert str(refused.value) == (f"NEWSTAG_TAXONOMIES_DIR: {a_file}: not a directory: name the directory that "
                                  "holds the taxonomy files")
    done = _start_config(a_file, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"newstag: cannot start: NEWSTAG_RUN_DIR={str(a_file)!r}: it is not a directory"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no metrics directory left behind


def _start_config(run_dir: Path, scratch: Path):
    """gunicorn's configuration read as a server starts, with this run directory and TMPDIR."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "import service.gunicorn_config"], timeout=60,
                          env={**os.environ, "NEWSTAG_RUN_DIR": str(run_dir), "TMPDIR": str(scratch)},
                          capture_output=True, text=True)


def test_a_run_directory_this_user_cannot_write_stops_the_server_with_one_line(tmp_path):
    """It started, and every POST /v1/models/reload then answered 500 (PermissionError on the
    reload counter's lock file, a traceback in the log)."""
    from tests.conftest import unwritable_dir

    locked = unwritable_dir(tmp_path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = _start_config(locked, scratch)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"newstag: cannot start: NEWSTAG_RUN_DIR={str(locked)!r}: this user may not write in it"]
    assert list(scratch.iterdir()) == []  # no metrics directory left behind


def test_no_writable_temporary_directory_stops_the_server_with_one_line():
    """A read-only root filesystem with nothing mounted at /tmp (docker run --read-only without
    --tmpfs /tmp): the metrics directory could not be made, and gunicorn printed a traceback."""
    import subprocess
    import sys

    code = "import tempfile; tempfile.tempdir = '/proc/sys/no-such-dir'; import service.gunicorn_config"
    done = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True, text=True)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("newstag: cannot start: no writable temporary directory") and "--tmpfs /tmp" in line


def test_a_misspelt_variable_is_named_not_silently_ignored(monkeypatch, capsys):
    """NEWSTAG_REQUIRE_API_KEY (for ..._KEYS) left the API open without a word."""
    from service.cli import main
    from service.config import unknown_variable_warnings
    from service.preflight import serving_warnings

    environ = {"NEWSTAG_REQUIRE_API_KEY": "1", "NEWSTAG_TRESHOLD": "0.9", "NEWSTAG_MODEL": "x", "NEWSTAG_WORKERS": "2",
               "NEWSTAG_COLOUR": "red", "PATH": "/bin"}
    assert unknown_variable_warnings(environ) == [
        "NEWSTAG_COLOUR is not a newstag setting and is ignored (docs/configuration.md lists them)",
        "NEWSTAG_REQUIRE_API_KEY is not a newstag setting and is ignored: did you mean NEWSTAG_REQUIRE_API_KEYS?",
        "NEWSTAG_TRESHOLD is not a newstag setting and is ignored: did you mean NEWSTAG_THRESHOLD?"]
    monkeypatch.setenv("NEWSTAG_REQUIRE_API_KEY", "1")
    assert any("did you mean NEWSTAG_REQUIRE_API_KEYS?" in w
               for w in serving_warnings(Settings.from_env(), ["127.0.0.1:8000"]))
    assert main(["taxonomies"]) == 0
    assert "newstag: warning: NEWSTAG_REQUIRE_API_KEY is not a newstag setting" in capsys.readouterr().err
