"""The room backends of tests/room (a SQLite file, a real PostgreSQL server) for the outbox
tests: each test that takes `backend` runs once on each."""

from tests.room.conftest import backend, pg_cluster  # noqa: F401  (fixtures, used by name)
