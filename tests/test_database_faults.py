"""Database faults (issue 13, item 8): the database out of reach answers 503 with Retry-After and
a French page, and the pages come back by themselves when it does; `/sante` checks that the
database takes a write, not only a read: a SQLite file locked by another writer, a PostgreSQL
that only reads."""

import contextlib
import html
import socket
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db, limiter
from tests.conftest import empty_tables, form_data, make_config

UNAVAILABLE = "Service momentanément indisponible"


class TcpProxy:
    """A TCP relay on 127.0.0.1 to PostgreSQL, that the test can cut (every connection dropped,
    new ones refused) and restore on the same port: the database going away and coming back."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = None
        self._listener = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port or 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    @property
    def serving(self) -> bool:
        return self._listener is not None

    def cut(self) -> None:
        # shutdown() first: close() alone leaves a thread blocked in accept() listening.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for end in sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def proxied(database_url, clock, tmp_path):
    """An app whose database is reached through a TcpProxy: (app, proxy). No app context is
    kept: each test client request has its own, hence its own session, as in production."""
    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    app = create_app(
        make_config(
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            CLOCK=clock,
            MAIL_FILE_DIR=str(tmp_path / "mail"),
        )
    )
    with app.app_context():
        limiter.reset()
        empty_tables()
    yield app, proxy
    if not proxy.serving:
        proxy.start()
    with app.app_context():
        empty_tables()
        db.engine.dispose()
    proxy.cut()


def assert_unavailable(response) -> None:
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 503, page[:500]
    # 30 s (app.errors), or on a rate-limited form the limiter's own (its window's end).
    assert int(response.headers["Retry-After"]) > 0
    assert UNAVAILABLE in page and "Traceback" not in page
    assert response.headers["Cache-Control"] == "no-store"


@ON_POSTGRESQL
class TestOutOfReach:
    @pytest.fixture
    def app(self, proxied):
        return proxied[0]

    def test_a_french_503_and_the_site_comes_back(self, app, proxied, make_workshop):
        proxy = proxied[1]
        with app.app_context():
            workshop_id = make_workshop(capacity=5).id
        client = app.test_client()
        assert client.get("/ateliers").status_code == 200

        proxy.cut()
        started = time.monotonic()
        assert_unavailable(client.get("/ateliers"))
        assert client.get("/ateliers").headers["Retry-After"] == "30"
        assert_unavailable(client.get(f"/ateliers/{workshop_id}"))
        registration = client.post(f"/ateliers/{workshop_id}/inscription", data=form_data(1))
        assert_unavailable(registration)
        assert "Rien n'a été enregistré" in html.unescape(registration.get_data(as_text=True))
        health = client.get("/sante")
        assert health.status_code == 503 and health.json["database"] == "indisponible"
        assert time.monotonic() - started < 20  # refused at once: nobody waits on a dead server

        proxy.start()  # the database is back: the next request reconnects
        assert client.get(f"/ateliers/{workshop_id}").status_code == 200
        registered = client.post(f"/ateliers/{workshop_id}/inscription", data=form_data(1))
        assert registered.status_code == 303
        assert client.get("/sante").json["database"] == "ok"


@ON_POSTGRESQL
def test_a_postgresql_that_only_reads_is_reported_by_sante(database_url, clock):
    """A server that refuses writes (a standby after a failover, a read-only setting) reads fine:
    /sante must not say "ok"."""
    read_only = make_url(database_url)
    options = read_only.query.get("options", "")
    read_only = read_only.update_query_dict(
        {"options": f"{options} -c default_transaction_read_only=on".strip()}
    )
    app = create_app(make_config(read_only.render_as_string(hide_password=False), CLOCK=clock))
    with app.app_context():
        health = app.test_client().get("/sante")
        db.engine.dispose()
    assert health.status_code == 503
    assert health.json["status"] == "error"
    assert health.json["database"] == (
        "écriture impossible : le serveur PostgreSQL n'accepte que des lectures "
        "(transactions en lecture seule)"
    )


@ON_SQLITE
class TestALockedSQLiteFile:
    @pytest.fixture
    def app(self, live_app):
        return live_app

    def test_sante_says_the_database_cannot_write_while_another_writer_holds_it(
        self, app, database_url
    ):
        client = app.test_client()
        assert client.get("/sante").json["database"] == "ok"
        other = sqlite3.connect(make_url(database_url).database, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process writing, for as long as it takes
            started = time.monotonic()
            health = client.get("/sante")
            waited = time.monotonic() - started
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert health.status_code == 503
        assert health.json["database"].startswith("écriture impossible")
        assert "verrouill" in health.json["database"]
        assert waited < 10  # a short wait for the lock, not the 30 s a page's write waits
        assert client.get("/sante").json["database"] == "ok"  # the lock released
        with app.app_context():
            assert db.session.scalar(sa.text("PRAGMA busy_timeout")) == 30_000  # put back
