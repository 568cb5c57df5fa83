"""The feedback store on SQLite and on a real PostgreSQL server: history, export, stats,
concurrent writers, and failures that store nothing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    make_url,
)

from service.engine import ConfigError
from service.feedback import EVERY, Correction, FeedbackStore, Selection, StoreUnavailable, content_hash
from tests.conftest import ROOT
from training.data import read_labeled


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/data/feedback.db"
    else:
        url = request.getfixturevalue("postgres_url")
    store = FeedbackStore(url)
    yield store
    store.close()


def test_a_correction_is_stored_with_its_hash_and_time(store):
    text = "Ministers met in Minsk.\n"
    stored_id = store.add(Correction(text, ("bilateral relations",), "news", "m", ("economy",)))
    [row] = store.history(text)
    assert row.id == stored_id and row.labels == ("bilateral relations",) and row.predicted == ("economy",)
    assert row.content_hash == hashlib.sha256(b"Ministers met in Minsk.").hexdigest()
    assert row.created_at is not None and row.taxonomy == "news" and row.model == "m"


def test_the_latest_correction_is_current_and_the_history_is_kept(store):
    first = store.add(Correction("Rates rose.", ("sports",), "news"))
    store.add(Correction("Other news.", ("weather",), "news"))
    # The same article again, as a dropped file would give it (CRLF, trailing newline).
    last = store.add(Correction("Rates rose.\r\n", ("economy",), "news"))
    assert last > first
    assert [r.labels for r in store.history("Rates rose.")] == [("sports",), ("economy",)]
    current = list(store.current())
    assert [(r.text.strip(), r.labels) for r in current] == [("Other news.", ("weather",)),
                                                             ("Rates rose.", ("economy",))]
    assert store.submissions() == 3


def test_the_export_is_what_finetune_reads(store, tmp_path, capsys):
    """Rows name their model and its version too (to tell desks apart); training reads past them."""
    store.add(Correction("Première: the striker scored twice.", ("sport",)))
    store.add(Correction("Inflation fell to 2%.", ("economy", "finance"), None, "desk-topics", ("economy",),
                         "0123456789ab"))
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r.training_row(), ensure_ascii=False) + "\n" for r in store.current()),
                    encoding="utf-8")
    examples = read_labeled(path)
    assert [(e.text, e.labels) for e in examples] == [
        ("Première: the striker scored twice.", ("sport",)), ("Inflation fell to 2%.", ("economy", "finance"))]
    assert capsys.readouterr().err == ""  # no warning about the extra keys
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(r["model"], r["model_version"]) for r in rows] == [(None, None), ("desk-topics", "0123456789ab")]
    assert all(set(r) == {"text", "labels", "taxonomy", "model", "model_version"} for r in rows)


def test_a_correction_under_one_taxonomy_does_not_replace_one_under_another(store):
    store.add(Correction("Oil prices rose.", ("energy",), "news"))
    store.add(Correction("Oil prices rose.", ("economy, business and finance",), "iptc-top"))
    store.add(Correction("Oil prices rose.", ("energy", "economy"), "news"))  # replaces the first only
    current = sorted((r.taxonomy, r.labels) for r in store.current())
    assert current == [("iptc-top", ("economy, business and finance",)), ("news", ("energy", "economy"))]


def test_stats_count_labels_and_changed_predictions(store):
    store.add(Correction("a", ("economy", "COP29"), "news", "m1", ("economy", "COP29")))  # kept as predicted
    store.add(Correction("b", ("economy",), "news", "m1", ("economy", "sports")))  # sports removed
    store.add(Correction("c", ("demining",), "news", "m2", ()))  # demining added
    store.add(Correction("d", ("weather",), None))  # no prediction: counted, not compared
    store.add(Correction("a", ("economy",), "news", "m1", ("economy", "COP29")))  # "a" again: now changed
    stats = store.stats()
    assert stats["corrections"] == 4 and stats["submissions"] == 5
    assert stats["labels"] == {"economy": 2, "demining": 1, "weather": 1}
    assert (stats["reviewed"], stats["changed"], stats["changed_rate"]) == (3, 3, 1.0)
    assert stats["added"] == {"demining": 1}
    assert stats["removed"] == {"COP29": 1, "sports": 1}
    assert stats["models"] == {"m1": {"reviewed": 2, "changed": 2}, "m2": {"reviewed": 1, "changed": 1}}


def test_stats_never_read_the_texts(store, monkeypatch):
    """Reading every text (up to 100,000 characters a row) to count labels took 8 s on 100,000 rows."""
    import service.feedback.store as store_module
    monkeypatch.setattr(store_module, "REVIEW_ROWS", 2)  # several pages
    for i in range(5):
        store.add(Correction(f"Article {i}.", ("economy",), "news", "m1", ("sports",)))
    statements: list[str] = []

    def listen(_connection, _cursor, statement, *_):
        statements.append(statement)

    event.listen(store.engine(), "before_cursor_execute", listen)
    try:
        stats = store.stats()
    finally:
        event.remove(store.engine(), "before_cursor_execute", listen)
    assert (stats["corrections"], stats["changed"], stats["added"]) == (5, 5, {"economy": 5})
    assert len(statements) >= 3
    assert not [s for s in statements if re.search(r"\btext\b", s, re.I)], statements


def test_concurrent_writers_lose_nothing(store):
    threads, each = 8, 15
    ids: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def write(worker: int) -> None:
        start.wait()
        for i in range(each):
            # Half the writes correct one shared text, so the writers contend on it.
            text = "A shared article." if i % 2 else f"Article {worker}-{i}."
            try:
                new_id = store.add(Correction(text, (f"label-{worker}",), None, None, ("x",)))
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                continue
            with lock:
                ids.append(new_id)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not failures
    assert len(ids) == len(set(ids)) == threads * each == store.submissions()
    shared = store.history("A shared article.")
    assert len(shared) == threads * (each // 2)
    current = list(store.current())
    assert len(current) == threads * (each - each // 2) + 1
    assert [r for r in current if r.text == "A shared article."][0].id == max(r.id for r in shared)
    if store.is_sqlite:
        with sqlite3.connect(store.url.database) as check:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)


WRITER = """
import sys
from service.feedback import Correction, FeedbackStore
store = FeedbackStore(sys.argv[1])
for i in range(int(sys.argv[3])):
    store.add(Correction("A shared article." if i % 2 else f"{sys.argv[2]}-{i}", (sys.argv[2],)))
"""


def test_worker_processes_writing_one_sqlite_file_lose_nothing(tmp_path):
    # What gunicorn's workers do: separate processes, one database file, WAL and busy waits.
    url = f"sqlite:///{tmp_path}/feedback.db"
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, url, f"worker{n}", "40"], cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
                 for n in range(3)]
    errors = [p.communicate(timeout=120)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], "\n".join(errors)
    store = FeedbackStore(url)
    assert store.submissions() == 120 and len(store.history("A shared article.")) == 60
    assert len(list(store.current())) == 3 * 20 + 1
    with sqlite3.connect(tmp_path / "feedback.db") as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store.close()


def test_closing_copies_the_log_into_the_sqlite_file_while_another_worker_has_it_open(tmp_path):
    # A worker leaving while another still serves is not the last to close: without a checkpoint
    # of its own its corrections stayed in the -wal file, out of a copy of feedback.db alone.
    database = tmp_path / "feedback.db"
    FeedbackStore(f"sqlite:///{database}").submissions()  # the table, in WAL mode
    other_worker = sqlite3.connect(database)
    try:
        other_worker.execute("SELECT count(*) FROM newstag_feedback").fetchone()
        script = WRITER + "store.close()\nimport os\nos._exit(0)\n"  # as gunicorn_config.worker_exit leaves
        subprocess.run([sys.executable, "-c", script, f"sqlite:///{database}", "w", "5"], cwd=ROOT, check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
        copy = tmp_path / "copy.db"
        copy.write_bytes(database.read_bytes())  # the file alone, as a plain cp takes it
    finally:
        other_worker.close()
    with sqlite3.connect(copy) as connection:
        assert connection.execute("SELECT count(*) FROM newstag_feedback").fetchone() == (5,)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path}/new/dir/feedback.db", busy_timeout=3)
    assert not (tmp_path / "new").exists()  # nothing is created before the first use
    store.add(Correction("x", ("a",)))
    with store.engine().connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 3000
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    store.close()


def test_a_write_the_database_refuses_raises_and_stores_nothing(tmp_path):
    path = tmp_path / "feedback.db"
    store = FeedbackStore(f"sqlite:///{path}", busy_timeout=0.2)
    store.add(Correction("before", ("a",)))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock past our busy timeout
    try:
        with pytest.raises(StoreUnavailable, match="unavailable"):
            store.add(Correction("during", ("b",)))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert [r.text for r in store.current()] == ["before"] and store.submissions() == 1
    store.add(Correction("after", ("c",)))  # the store recovers once the lock is gone
    assert store.submissions() == 2
    store.close()


@pytest.mark.parametrize(("reason", "opened"), [("database is locked", True), ("disk I/O error", False)])
def test_a_lock_met_while_opening_is_waited_out_and_other_errors_are_not(tmp_path, monkeypatch, reason, opened):
    # Workers opening one new file together can meet a lock SQLite's busy wait does not cover.
    from sqlalchemy.exc import OperationalError

    import service.feedback.store as store_module
    calls = []

    def create_schema_failing_once(connection):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("CREATE TABLE", {}, sqlite3.OperationalError(reason))
        real_create_schema(connection)

    real_create_schema = store_module.create_schema
    monkeypatch.setattr(store_module, "create_schema", create_schema_failing_once)
    store = FeedbackStore(f"sqlite:///{tmp_path}/feedback.db", busy_timeout=2)
    if opened:
        store.add(Correction("x", ("a",)))
        assert store.submissions() == 1 and len(calls) == 2
    else:
        with pytest.raises(StoreUnavailable):
            store.add(Correction("x", ("a",)))
        assert len(calls) == 1
    store.close()


@pytest.mark.parametrize("make_url", [
    lambda tmp: f"sqlite:///{tmp}/a-file/feedback.db",  # its directory cannot be made: a file is in the way
    lambda tmp: f"postgresql+psycopg://nobody@/db?host={tmp}/no-server&connect_timeout=2",
])
def test_an_unreachable_store_is_unavailable_and_says_so_once_it_is_asked(tmp_path, make_url):
    (tmp_path / "a-file").write_text("not a directory")
    store = FeedbackStore(make_url(tmp_path))  # no error at construction: the service still tags
    for call in (lambda: store.add(Correction("x", ("a",))), lambda: list(store.current()), store.stats):
        with pytest.raises(StoreUnavailable):
            call()


def test_a_malformed_url_stops_start_up():
    with pytest.raises(ConfigError, match="NEWSTAG_DATABASE_URL"):
        FeedbackStore("not a url at all")


def test_the_content_hash_ignores_outer_whitespace_and_line_ends_only():
    assert content_hash("a\r\nb\n") == content_hash("a\nb") != content_hash("a b")


def test_the_content_hash_ignores_invisible_marks_at_the_ends_only():
    """A byte order mark or a direction mark before or after an article does not make it another
    text; inside, a zero-width non-joiner spells Persian words, so it counts."""
    text = "Ministers met in Minsk."
    for marked in ("\ufeff" + text, "\u200f" + text, "\u200e" + text, " \ufeff\u200f" + text + "\u200e\n"):
        assert content_hash(marked) == content_hash(text)
    assert content_hash("می\u200cخواهم") != content_hash("میخواهم")
    assert content_hash("Minsk\u200b talks") != content_hash("Minsk talks")


def test_the_current_rows_are_read_page_by_page_as_of_the_moment_they_are_asked_for(store, monkeypatch):
    """Pages (three rows here) each on their own connection; a text re-corrected on a later
    page appears once, with its newest labels; rows stored while reading wait for the next read."""
    import service.feedback.store as store_module
    monkeypatch.setattr(store_module, "PAGE_ROWS", 3)
    monkeypatch.setattr(store_module, "REVIEW_ROWS", 3)  # the stats' pages, too
    for i in range(8):
        store.add(Correction(f"Article {i}.", ("economy",), "news"))
    store.add(Correction("Article 1.", ("sports",), "news"))  # replaces row 2, seven rows later
    store.add(Correction("Article 1.", ("sports",), None))  # typed labels: a label set of its own
    rows = store.current()
    first = next(rows)
    store.add(Correction("Article 0.", ("weather",), "news"))  # while the export is read
    read = [first, *rows]
    assert [(r.text, r.labels, r.taxonomy) for r in read] == (
        [(f"Article {i}.", ("economy",), "news") for i in (0, 2, 3, 4, 5, 6, 7)]
        + [("Article 1.", ("sports",), "news"), ("Article 1.", ("sports",), None)])
    assert store.stats()["corrections"] == 10 - 1 and store.stats()["submissions"] == 11


def test_stats_count_submissions_up_to_the_rows_they_summarize(store, monkeypatch):
    # Counted apart, a correction stored between the two reads gave more corrections than submissions.
    store.add(Correction("One.", ("economy",), "news"))
    real_current = store.current

    def current_then_a_write(selection=EVERY):
        rows = real_current(selection)
        store.add(Correction("Two.", ("economy",), "news"))
        return rows

    monkeypatch.setattr(store, "current", current_then_a_write)
    stats = store.stats()
    assert (stats["corrections"], stats["submissions"]) == (1, 1)


def test_a_row_without_prediction_stores_sql_null(store):
    from sqlalchemy import func, select

    from service.feedback.tables import feedback
    store.add(Correction("No prediction sent.", ("economy",), "news"))
    with store.engine().connect() as connection:
        nulls = connection.execute(select(func.count()).where(feedback.c.predicted.is_(None))).scalar_one()
    assert nulls == 1 and [r.predicted for r in store.current()] == [None]


def test_a_table_made_by_someone_else_is_used_without_creating_anything(store, monkeypatch):
    """A least-privilege role (SELECT and INSERT on a table a DBA created) needs no CREATE."""
    import service.feedback.store as store_module
    other = FeedbackStore(store.url)
    other.add(Correction("Made by the DBA's first run.", ("economy",), "news"))
    other.close()

    def no_create(connection):
        raise AssertionError("the table exists: nothing may be created")

    monkeypatch.setattr(store_module, "create_schema", no_create)
    store.add(Correction("A second.", ("economy",), "news"))
    assert store.submissions() == 2


def test_a_table_gone_since_the_first_write_is_made_again(store):
    # A restore or failover to an empty database: one 503, then the store heals itself.
    from service.feedback.tables import feedback
    store.add(Correction("Before.", ("economy",), "news"))
    with store.engine().begin() as connection:
        feedback.drop(connection)
    with pytest.raises(StoreUnavailable):
        store.add(Correction("During.", ("economy",), "news"))
    store.add(Correction("After.", ("economy",), "news"))
    assert [r.text for r in store.current()] == ["After."]


def test_workers_creating_the_table_at_once_wait_for_each_other(tmp_path, monkeypatch):
    # PostgreSQL: CREATE TABLE IF NOT EXISTS from two sessions at once can fail on its catalogue.
    from sqlalchemy.exc import IntegrityError

    import service.feedback.store as store_module
    calls = []

    def create_schema_racing_once(connection):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("CREATE TABLE", {}, Exception(
                'duplicate key value violates unique constraint "pg_type_typname_nsp_index"'))
        real_create_schema(connection)

    real_create_schema = store_module.create_schema
    monkeypatch.setattr(store_module, "create_schema", create_schema_racing_once)
    store = FeedbackStore(f"sqlite:///{tmp_path}/feedback.db", busy_timeout=2)
    store.add(Correction("x", ("a",)))
    assert store.submissions() == 1 and len(calls) == 2
    store.close()


def test_urls_as_hosting_providers_write_them_and_logs_without_passwords():
    assert FeedbackStore("postgres://u:pw@db/news").url.drivername == "postgresql"
    assert FeedbackStore("postgres+psycopg://u:pw@db/news").url.drivername == "postgresql+psycopg"
    described = FeedbackStore("postgresql://u:pw@db/news?password=also&sslmode=require").describe()
    assert "pw" not in described and "also" not in described and "sslmode=require" in described


def test_a_table_of_another_shape_is_named_in_the_log(store, caplog):
    """An older or foreign table of the same name gave a 503 'UndefinedColumn' forever, saying nothing useful."""
    from pathlib import Path

    from sqlalchemy import create_engine, text
    if store.is_sqlite:
        Path(store.url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(store.url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE newstag_feedback (id INTEGER PRIMARY KEY, text TEXT)"))
    engine.dispose()
    with pytest.raises(StoreUnavailable):
        store.add(Correction("x", ("a",)))
    assert ("has no column(s) content_hash, created_at, labels, model, model_version, predicted, taxonomy"
            in caplog.text)


def test_the_content_hash_is_of_the_nfc_form():
    """The same article with its accents decomposed (NFD) counted as a second text."""
    decomposed = "Cre\u0300me bru\u0302le\u0301e a\u0300 Gene\u0300ve."
    assert content_hash("Crème brûlée à Genève.") == content_hash(decomposed) != content_hash("Creme brulee")


def test_one_text_in_two_unicode_forms_is_one_text(store):
    composed, decomposed = "Le café a fermé.", "Le cafe\u0301 a ferme\u0301."
    store.add(Correction(decomposed, ("economy",), "news"))
    store.add(Correction(composed, ("sports",), "news"))
    assert [(r.text, r.labels) for r in store.current()] == [(composed, ("sports",))]
    assert [r.text for r in store.history(decomposed)] == [decomposed, composed]


def test_a_correction_keeps_its_model_version(store):
    store.add(Correction("Rates rose.", ("economy",), None, "desk-topics", ("economy",), "0123456789ab"))
    [row] = store.history("Rates rose.")
    assert (row.model, row.model_version) == ("desk-topics", "0123456789ab")
    assert row.training_row()["model_version"] == "0123456789ab"


def test_a_selection_gives_one_models_corrections_and_those_made_since(store):
    store.add(Correction("Match report.", ("sport",), None, "desk-a"))
    store.add(Correction("Match report.", ("football",), None, "desk-b"))  # replaces desk-a's for everyone else
    store.add(Correction("Memo.", ("memo",)))
    [memo] = store.history("Memo.")

    def texts(selection):
        return [(r.text, r.labels) for r in store.current(selection)]

    assert texts(EVERY) == [("Match report.", ("football",)), ("Memo.", ("memo",))]
    assert texts(Selection(by_model=True, model="desk-a")) == [("Match report.", ("sport",))]
    assert texts(Selection(by_model=True, model=None)) == [("Memo.", ("memo",))]
    assert texts(Selection(since=memo.created_at.replace(tzinfo=memo.created_at.tzinfo or UTC))) == [
        ("Memo.", ("memo",))]
    assert store.submissions(selection=Selection(by_model=True, model="desk-b")) == 1
    assert store.stats(Selection(by_model=True, model="desk-a"))["labels"] == {"sport": 1}
    assert store.models() == ["desk-a", "desk-b"]


def _old_table() -> Table:
    """newstag_feedback as newstag made it before model_version (and before hashes of the NFC form)."""
    return Table(
        "newstag_feedback", MetaData(),
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("content_hash", String(64), nullable=False),
        Column("text", Text, nullable=False),
        Column("labels", JSON, nullable=False),
        Column("taxonomy", String(200)),
        Column("model", String(200)),
        Column("predicted", JSON(none_as_null=True)),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


def _old_store(url) -> None:
    """A store written by the previous newstag: its schema, its hashes (of the text as sent)."""
    if url.get_backend_name() == "sqlite":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    old = _old_table()
    engine = create_engine(url)
    with engine.begin() as connection:
        old.create(connection)
        Index("ix_newstag_feedback_content_hash_id", old.c.content_hash, old.c.id).create(connection)
        for text, labels in (("Le cafe\u0301 a ferme\u0301.", ["economy"]), ("Rates rose.", ["economy"])):
            connection.execute(old.insert().values(
                content_hash=hashlib.sha256(text.encode()).hexdigest(), text=text, labels=labels, taxonomy="news",
                model="m", predicted=None, created_at=datetime.now(UTC)))
    engine.dispose()


def test_a_store_made_by_the_previous_newstag_is_upgraded_on_first_use(store, caplog):
    """The column is added, and the old hash of a decomposed text recomputed: corrected again in
    either form, it is one text, not two current ones."""
    _old_store(store.url)
    store.add(Correction("Le café a fermé.", ("sports",), "news", "m", None, "0123456789ab"))
    assert [(r.text, r.labels, r.model_version) for r in store.current()] == [
        ("Rates rose.", ("economy",), None), ("Le café a fermé.", ("sports",), "0123456789ab")]
    assert len(store.history("Le cafe\u0301 a ferme\u0301.")) == 2
    assert "1 content hash(es) recomputed" in caplog.text
    store.close()
    caplog.clear()
    again = FeedbackStore(store.url)  # the next start finds the table up to date
    assert again.submissions() == 3 and "older newstag" not in caplog.text
    again.close()


def test_workers_upgrading_one_old_sqlite_table_at_once_wait_for_each_other(tmp_path, monkeypatch):
    """The second worker's ALTER TABLE meets the column the first added: it looks again, and finds it."""
    import service.feedback.store as store_module
    from service.feedback.upgrade import add_column_sql

    url = f"sqlite:///{tmp_path}/feedback.db"
    store = FeedbackStore(url, busy_timeout=2)
    _old_store(store.url)
    real_upgrade, calls = store_module.upgrade_table, []

    def another_worker_first(connection, missing):
        calls.append(1)
        if len(calls) == 1:
            with sqlite3.connect(tmp_path / "feedback.db") as other:
                other.execute(add_column_sql(connection.dialect, "model_version"))
        return real_upgrade(connection, missing)

    monkeypatch.setattr(store_module, "upgrade_table", another_worker_first)
    store.add(Correction("x", ("a",)))
    assert store.submissions() == 3 and len(calls) == 1
    store.close()


def test_workers_upgrading_one_old_postgresql_table_at_once_wait_for_each_other(postgres_url, monkeypatch):
    """Both reach the upgrade together (two gunicorn workers' first requests): without a lock
    between them PostgreSQL found a deadlock and one worker answered 503."""
    import threading

    import service.feedback.upgrade as upgrade_module

    url = make_url(postgres_url)
    _old_store(url)
    real_rehash, together = upgrade_module._rehash, threading.Barrier(2)

    def at_once(connection):
        changed = real_rehash(connection)
        try:  # both hold the table's rows read when each asks for it alone; unless one waits for the other
            together.wait(2)
        except threading.BrokenBarrierError:
            pass
        return changed

    monkeypatch.setattr(upgrade_module, "_rehash", at_once)
    results: dict[int, object] = {}

    def worker(i: int) -> None:
        store = FeedbackStore(url, busy_timeout=3)
        try:
            results[i] = store.submissions()
        except StoreUnavailable as exc:
            results[i] = str(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {0: 2, 1: 2}


def test_a_role_that_may_not_alter_the_old_table_is_told_what_to_run(postgres_url, caplog):
    """A least-privilege role (SELECT, INSERT) cannot upgrade the table: the log gives the DBA the statement."""
    owner = make_url(postgres_url)
    _old_store(owner)
    role = f"desk_{owner.database}"
    engine = create_engine(owner, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        connection.exec_driver_sql(f"GRANT SELECT, INSERT ON newstag_feedback TO {role}")
        connection.exec_driver_sql(f"GRANT USAGE ON SEQUENCE newstag_feedback_id_seq TO {role}")
    engine.dispose()
    limited = FeedbackStore(owner.set(username=role), busy_timeout=0.5)
    with pytest.raises(StoreUnavailable):
        limited.add(Correction("x", ("a",)))
    assert 'ALTER TABLE newstag_feedback ADD COLUMN IF NOT EXISTS model_version VARCHAR(64)' in caplog.text
    limited.close()
    FeedbackStore(owner).add(Correction("y", ("b",)))  # the owner upgrades it once
    limited.add(Correction("x", ("a",)))  # and the limited role writes
    assert limited.submissions() == 4
    limited.close()
