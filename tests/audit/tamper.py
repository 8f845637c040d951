"""What an attacker with database access does: edits stored case events in plain SQL,
with the database's own driver (sqlite3 or psycopg), bypassing the service entirely.

Stores are encrypted; this attacker also holds the key (an insider), the harder case:
without it, any edit only yields ciphertext that no longer decrypts."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from casebook_case.domain.chain import seal, sealed_document
from tests.support import TEST_CIPHER_KEY

TABLE = "casebook_events"
ONE_EVENT = "WHERE originator_id = ? AND originator_version = ?"


class Tamperer:
    def __init__(self, db_url: str, cipher_key: str = TEST_CIPHER_KEY) -> None:
        self.db_url = db_url
        self.cipher = AESCipher(Environment(env={"CIPHER_KEY": cipher_key})) if cipher_key else None
        self.sqlite = db_url.startswith("sqlite")
        self.table = TABLE

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self.sqlite:
            connection = sqlite3.connect(self.db_url.removeprefix("sqlite:///").split("?")[0])
            try:
                yield connection.cursor()
                connection.commit()
            finally:
                connection.close()
        else:
            url = self.db_url.replace("postgresql+psycopg", "postgresql")
            with psycopg.connect(url) as connection, connection.cursor() as cursor:
                yield cursor

    def _sql(self, statement: str) -> str:
        return statement if self.sqlite else statement.replace("?", "%s")

    def _id(self, case_id: str) -> Any:
        return uuid.UUID(case_id).bytes if self.sqlite else uuid.UUID(case_id)

    # --------------------------------------------------------------- reading
    def state(self, case_id: str, version: int) -> dict[str, Any]:
        with self._cursor() as cursor:
            cursor.execute(
                self._sql(f"SELECT state FROM {self.table} {ONE_EVENT}"),
                (self._id(case_id), version),
            )
            (state,) = cursor.fetchone()
        plain = bytes(state) if self.cipher is None else self.cipher.decrypt(bytes(state))
        return json.loads(plain)

    def topic(self, case_id: str, version: int) -> str:
        with self._cursor() as cursor:
            cursor.execute(
                self._sql(f"SELECT topic FROM {self.table} {ONE_EVENT}"),
                (self._id(case_id), version),
            )
            return cursor.fetchone()[0]

    # ------------------------------------------------------------- tampering
    def write_state(self, case_id: str, version: int, state: dict[str, Any]) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                self._sql(f"UPDATE {self.table} SET state = ? {ONE_EVENT}"),
                (self._encoded(state), self._id(case_id), version),
            )
            assert cursor.rowcount == 1

    def _encoded(self, state: dict[str, Any]) -> bytes:
        plain = json.dumps(state).encode()
        return plain if self.cipher is None else self.cipher.encrypt(plain)

    def change_payload(self, case_id: str, version: int, field: str, value: Any) -> None:
        state = self.state(case_id, version)
        assert field in state, f"{field} not in {sorted(state)}"
        state[field] = value
        self.write_state(case_id, version, state)

    def delete(self, case_id: str, version: int) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                self._sql(f"DELETE FROM {self.table} {ONE_EVENT}"),
                (self._id(case_id), version),
            )
            assert cursor.rowcount == 1

    def swap(self, case_id: str, first: int, second: int) -> None:
        """Exchange two events' places in the case (their version numbers)."""
        with self._cursor() as cursor:
            for old, new in ((first, -1), (second, first), (-1, second)):
                cursor.execute(
                    self._sql(f"UPDATE {self.table} SET originator_version = ? {ONE_EVENT}"),
                    (new, self._id(case_id), old),
                )
                assert cursor.rowcount == 1

    def insert(self, case_id: str, version: int, topic: str, state: dict[str, Any]) -> None:
        with self._cursor() as cursor:
            cursor.execute(
                self._sql(
                    f"INSERT INTO {self.table} (originator_id, originator_version, topic, state) "
                    "VALUES (?, ?, ?, ?)"
                ),
                (self._id(case_id), version, topic, self._encoded(state)),
            )

    def resealed(
        self, case_id: str, version: int, topic: str, state: dict[str, Any]
    ) -> dict[str, Any]:
        """An attacker who knows the chain's rules recomputes an event's own hash."""
        fields = {k: _decoded(v) for k, v in state.items()}
        document = sealed_document(
            topic, int(state.get("class_version", 1)), case_id, version, fields
        )
        return {**state, "hash": seal(document)}


def _decoded(value: Any) -> Any:
    """The stored JSON with the library's typed values (times, state objects) turned back
    into what the chain's canonical form expects."""
    from datetime import datetime

    if isinstance(value, dict) and set(value) == {"_type_", "_data_"}:
        if value["_type_"] == "datetime_iso":
            return datetime.fromisoformat(value["_data_"])
        return _decoded(value["_data_"])
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value
