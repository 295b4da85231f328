"""`store_url`: a fresh, empty database for the run store, once in SQLite and once in PostgreSQL.

A test that takes `store_url` runs twice, `[sqlite]` (a file under tmp_path) and `[postgresql]` (a database
created for that test alone on the server in PLAYGROUND_TEST_POSTGRES_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres, and dropped after it). scripts/test.sh starts that
server when nothing answers there, so under CI (CI=true) a silent server fails the PostgreSQL runs; elsewhere
they are skipped with the reason. Every engine the test opened on its database is disposed after it.
"""

import os
import uuid
import weakref
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_server():
    """An AUTOCOMMIT engine on the server's maintenance database (CREATE/DROP DATABASE need it), or the
    reason it does not answer: checked once per session, so a missing server costs one refused connect."""
    url = make_url(os.environ.get("PLAYGROUND_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # refused, timed out, auth failed: all mean "no server to test on"
        engine.dispose()
        first_line = (str(error).strip().splitlines() or [""])[0]
        where = url.render_as_string(hide_password=True)
        reason = (
            f"PostgreSQL does not answer at {where} ({type(error).__name__}: {first_line}); "
            "scripts/test.sh installs and starts one, or point PLAYGROUND_TEST_POSTGRES_URL at another"
        )
        yield None, reason
        return
    yield engine, None
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The URL of a fresh, empty database; open it with RunStore(store_url), as often as a test likes
    (a second RunStore on the same URL is the store after a server restart)."""
    if request.param == "sqlite":
        database = str(tmp_path / "runs.db")
        with _engines_disposed_after(database):
            yield f"sqlite:///{database}"
        return
    server, reason = request.getfixturevalue("postgres_server")
    if server is None:
        if _in_ci():
            pytest.fail(f"{reason}; CI=true, where the PostgreSQL runs must not be skipped", pytrace=False)
        pytest.skip(reason)
    database = f"test_runs_{uuid.uuid4().hex[:16]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        with _engines_disposed_after(database):
            yield server.url.set(database=database).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@contextmanager
def _engines_disposed_after(database: str):
    """Dispose (close the pooled connections of) every engine that connected to `database` meanwhile,
    however the code under test made its engines."""
    engines: weakref.WeakSet[Engine] = weakref.WeakSet()

    def seen(connection):
        if connection.engine.url.database == database:
            engines.add(connection.engine)

    event.listen(Engine, "engine_connect", seen)
    try:
        yield
    finally:
        event.remove(Engine, "engine_connect", seen)
        for engine in list(engines):
            engine.dispose()
