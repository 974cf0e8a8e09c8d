"""SQLite store: installations, repos, configs, keys, fingerprints, occurrences,
attempts, deliveries and jobs.

The methods are the seam a DynamoDB store would fill later; nothing outside
this module writes SQL. Calls are short and local, so they run on the event
loop; SQLite in WAL mode keeps readers and the one writer out of each other's
way.
"""

from __future__ import annotations

import enum
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS installations (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    suspended INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS repos (
    full_name TEXT PRIMARY KEY,
    installation_id INTEGER NOT NULL,
    default_branch TEXT,
    config TEXT,
    config_error TEXT,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    log_group TEXT NOT NULL,
    repo TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (log_group, repo)
);
CREATE TABLE IF NOT EXISTS forwarder_keys (
    key_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    installation_id INTEGER,
    log_group_prefix TEXT,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS occurrences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    log_group TEXT NOT NULL,
    log_stream TEXT,
    key_id TEXT,
    count INTEGER NOT NULL,
    first_seen INTEGER,
    last_seen INTEGER,
    traceback TEXT NOT NULL,
    text TEXT NOT NULL,
    received_at REAL NOT NULL,
    counted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS occurrences_by_fingerprint ON occurrences (fingerprint);
CREATE TABLE IF NOT EXISTS fixes (
    repo TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    pr_number INTEGER,
    issue_number INTEGER,
    branch TEXT,
    occurrences INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER,
    last_seen INTEGER,
    log_group TEXT,
    body_updated_at REAL,
    previous_pr INTEGER,
    traceback TEXT,
    text TEXT,
    PRIMARY KEY (repo, fingerprint)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    pr_number INTEGER,
    kind TEXT NOT NULL,
    model TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost REAL,
    prompt_chars INTEGER,
    outcome TEXT NOT NULL,
    detail TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    lane TEXT,
    tries INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, not_before);
CREATE TABLE IF NOT EXISTS notices (
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    login TEXT NOT NULL,
    PRIMARY KEY (repo, number, login)
);
"""


class FixState(enum.Enum):
    """Where a fingerprint stands in one repository."""

    NEW = "new"  # seen, not yet tried
    OPEN = "open"  # a pull request is open
    FIXED = "fixed"  # its pull request was merged
    DECLINED = "declined"  # its pull request was closed unmerged
    MUTED = "muted"  # a reviewer said /ignore
    UNFIXED = "unfixed"  # tried, no safe fix came out; an issue may tell why


@dataclass(frozen=True)
class Occurrence:
    id: int
    fingerprint: str
    log_group: str
    log_stream: str | None
    key_id: str | None
    count: int
    first_seen: int | None
    last_seen: int | None
    traceback: dict[str, Any]
    text: str


@dataclass(frozen=True)
class Fix:
    repo: str
    fingerprint: str
    state: FixState
    pr_number: int | None
    issue_number: int | None
    branch: str | None
    occurrences: int
    first_seen: int | None
    last_seen: int | None
    log_group: str | None
    body_updated_at: float | None
    previous_pr: int | None
    traceback: dict[str, Any] | None
    text: str | None


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    tries: int
    lane: str | None


@dataclass(frozen=True)
class ForwarderKey:
    key_id: str
    secret: str
    installation_id: int | None
    log_group_prefix: str | None
    revoked: bool


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:" and not os.path.exists(path):
            # Keys' secrets live here: readable by this user only. SQLite gives
            # its -wal and -shm files the same mode as the database.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes; a failure inside rolls all of them back."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # Installations and repositories.

    def put_installation(self, installation_id: int, account: str) -> None:
        self._db.execute(
            "INSERT INTO installations (id, account) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET account = excluded.account",
            (installation_id, account),
        )

    def set_suspended(self, installation_id: int, suspended: bool) -> None:
        self._db.execute(
            "UPDATE installations SET suspended = ? WHERE id = ?",
            (int(suspended), installation_id),
        )

    def delete_installation(self, installation_id: int) -> None:
        with self.transaction():
            self._db.execute(
                "DELETE FROM claims WHERE repo IN (SELECT full_name FROM repos "
                "WHERE installation_id = ?)",
                (installation_id,),
            )
            self._db.execute(
                "DELETE FROM repos WHERE installation_id = ?", (installation_id,)
            )
            self._db.execute(
                "DELETE FROM installations WHERE id = ?", (installation_id,)
            )

    def installation_active(self, installation_id: int) -> bool:
        row = self._db.execute(
            "SELECT suspended FROM installations WHERE id = ?", (installation_id,)
        ).fetchone()
        return row is not None and not row["suspended"]

    def put_repo(
        self, full_name: str, installation_id: int, default_branch: str | None
    ) -> None:
        self._db.execute(
            "INSERT INTO repos (full_name, installation_id, default_branch, added_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (full_name) DO UPDATE SET "
            "installation_id = excluded.installation_id, "
            "default_branch = COALESCE(excluded.default_branch, default_branch)",
            (full_name, installation_id, default_branch, time.time()),
        )

    def remove_repo(self, full_name: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM claims WHERE repo = ?", (full_name,))
            self._db.execute("DELETE FROM repos WHERE full_name = ?", (full_name,))

    def set_config(
        self, full_name: str, config: dict[str, Any] | None, error: str | None
    ) -> None:
        """Record a repo's config; a None config keeps the last good one."""
        if config is None:
            self._db.execute(
                "UPDATE repos SET config_error = ? WHERE full_name = ?",
                (error, full_name),
            )
        else:
            with self.transaction():
                self._db.execute(
                    "UPDATE repos SET config = ?, config_error = ? WHERE full_name = ?",
                    (json.dumps(config), error, full_name),
                )
                groups = [
                    g["name"] if isinstance(g, dict) else str(g)
                    for g in config.get("log_groups") or []
                ]
                self._claim(full_name, groups)

    def clear_config(self, full_name: str) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE repos SET config = NULL, config_error = NULL "
                "WHERE full_name = ?",
                (full_name,),
            )
            self._claim(full_name, [])

    def _claim(self, full_name: str, log_groups: list[str]) -> None:
        """Keep a claim's first time while the config names the group."""
        marks = ", ".join("?" for _ in log_groups)
        self._db.execute(
            f"DELETE FROM claims WHERE repo = ? AND log_group NOT IN ({marks})",
            (full_name, *log_groups),
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO claims (log_group, repo, claimed_at) "
            "VALUES (?, ?, ?)",
            [(group, full_name, time.time()) for group in log_groups],
        )

    def claimants(
        self, log_group: str, installation_id: int | None = None
    ) -> list[sqlite3.Row]:
        """Configured repos that claim a log group, the earliest claim first."""
        sql = (
            "SELECT repos.* FROM claims JOIN repos ON repos.full_name = claims.repo "
            "JOIN installations ON installations.id = repos.installation_id "
            "WHERE claims.log_group = ? AND repos.config IS NOT NULL "
            "AND installations.suspended = 0"
        )
        args: tuple[Any, ...] = (log_group,)
        if installation_id is not None:
            sql += " AND repos.installation_id = ?"
            args += (installation_id,)
        return self._db.execute(
            sql + " ORDER BY claims.claimed_at, claims.rowid", args
        ).fetchall()

    def repo(self, full_name: str) -> sqlite3.Row | None:
        return self._db.execute(
            "SELECT * FROM repos WHERE full_name = ?", (full_name,)
        ).fetchone()

    def configured_repos(self, installation_id: int | None = None) -> list[sqlite3.Row]:
        """Repos with a config, earliest added first, of active installations."""
        sql = (
            "SELECT repos.* FROM repos JOIN installations "
            "ON installations.id = repos.installation_id "
            "WHERE repos.config IS NOT NULL AND installations.suspended = 0"
        )
        args: tuple[Any, ...] = ()
        if installation_id is not None:
            sql += " AND repos.installation_id = ?"
            args = (installation_id,)
        return self._db.execute(
            sql + " ORDER BY repos.added_at, repos.rowid", args
        ).fetchall()

    def installation_ids(self) -> list[int]:
        return [r["id"] for r in self._db.execute("SELECT id FROM installations")]

    # Forwarder keys.

    def put_key(
        self,
        key_id: str,
        secret: str,
        installation_id: int | None,
        log_group_prefix: str | None,
    ) -> None:
        self._db.execute(
            "INSERT INTO forwarder_keys (key_id, secret, installation_id, "
            "log_group_prefix, created_at) VALUES (?, ?, ?, ?, ?)",
            (key_id, secret, installation_id, log_group_prefix, time.time()),
        )

    def key(self, key_id: str) -> ForwarderKey | None:
        row = self._db.execute(
            "SELECT * FROM forwarder_keys WHERE key_id = ?", (key_id,)
        ).fetchone()
        return _key(row) if row else None

    def list_keys(self) -> list[ForwarderKey]:
        rows = self._db.execute("SELECT * FROM forwarder_keys ORDER BY created_at")
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: str) -> bool:
        cursor = self._db.execute(
            "UPDATE forwarder_keys SET revoked_at = ? "
            "WHERE key_id = ? AND revoked_at IS NULL",
            (time.time(), key_id),
        )
        return cursor.rowcount == 1

    # Occurrences.

    def add_occurrence(
        self,
        *,
        fingerprint: str,
        log_group: str,
        log_stream: str | None,
        key_id: str | None,
        count: int,
        first_seen: int | None,
        last_seen: int | None,
        traceback: dict[str, Any],
        text: str,
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO occurrences (fingerprint, log_group, log_stream, key_id, "
            "count, first_seen, last_seen, traceback, text, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fingerprint,
                log_group,
                log_stream,
                key_id,
                count,
                first_seen,
                last_seen,
                json.dumps(traceback),
                text,
                time.time(),
            ),
        )
        return int(cursor.lastrowid or 0)

    def occurrence(self, occurrence_id: int) -> Occurrence | None:
        row = self._db.execute(
            "SELECT * FROM occurrences WHERE id = ?", (occurrence_id,)
        ).fetchone()
        if row is None:
            return None
        return Occurrence(
            id=row["id"],
            fingerprint=row["fingerprint"],
            log_group=row["log_group"],
            log_stream=row["log_stream"],
            key_id=row["key_id"],
            count=row["count"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            traceback=json.loads(row["traceback"]),
            text=row["text"],
        )

    def pending_occurrence_fingerprints(self) -> list[str]:
        rows = self._db.execute("SELECT fingerprint FROM occurrences ORDER BY id")
        return [row[0] for row in rows]

    def occurrence_ids_for(self, log_groups: list[str]) -> list[tuple[int, str]]:
        """Waiting occurrences of these log groups: (id, fingerprint) pairs."""
        marks = ", ".join("?" for _ in log_groups)
        rows = self._db.execute(
            f"SELECT id, fingerprint FROM occurrences WHERE log_group IN ({marks}) "
            "ORDER BY id",
            log_groups,
        )
        return [(r["id"], r["fingerprint"]) for r in rows]

    def prune_occurrences(self, older_than: float) -> int:
        cursor = self._db.execute(
            "DELETE FROM occurrences WHERE received_at < ?", (older_than,)
        )
        return cursor.rowcount

    def drop_occurrence(self, occurrence_id: int) -> None:
        self._db.execute("DELETE FROM occurrences WHERE id = ?", (occurrence_id,))

    # Fixes: one row per repository and fingerprint.

    def fix(self, repo: str, fingerprint: str) -> Fix | None:
        row = self._db.execute(
            "SELECT * FROM fixes WHERE repo = ? AND fingerprint = ?",
            (repo, fingerprint),
        ).fetchone()
        return _fix(row) if row else None

    def fix_by_pr(self, repo: str, pr_number: int) -> Fix | None:
        row = self._db.execute(
            "SELECT * FROM fixes WHERE repo = ? AND pr_number = ?", (repo, pr_number)
        ).fetchone()
        return _fix(row) if row else None

    def tally(self, repo: str, occurrence: Occurrence) -> Fix:
        """Count an occurrence into its fingerprint's tally, once.

        A job that fails after counting is retried; the mark on the
        occurrence keeps the retry from counting it twice.
        """
        with self.transaction():
            counted = self._db.execute(
                "UPDATE occurrences SET counted = 1 WHERE id = ? AND counted = 0",
                (occurrence.id,),
            ).rowcount
            if counted:
                return self.count_occurrence(
                    repo,
                    occurrence.fingerprint,
                    count=occurrence.count,
                    first_seen=occurrence.first_seen,
                    last_seen=occurrence.last_seen,
                    log_group=occurrence.log_group,
                    traceback=occurrence.traceback,
                    text=occurrence.text,
                )
        fix = self.fix(repo, occurrence.fingerprint)
        assert fix is not None
        return fix

    def count_occurrence(
        self,
        repo: str,
        fingerprint: str,
        *,
        count: int,
        first_seen: int | None,
        last_seen: int | None,
        log_group: str,
        traceback: dict[str, Any] | None = None,
        text: str | None = None,
    ) -> Fix:
        """Add occurrences to a fingerprint's tally, creating its row.

        The latest traceback is kept, so a later /retry can show it.
        """
        self._db.execute(
            "INSERT INTO fixes (repo, fingerprint, state, occurrences, first_seen, "
            "last_seen, log_group, traceback, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (repo, fingerprint) DO UPDATE SET "
            "occurrences = occurrences + excluded.occurrences, "
            "first_seen = MIN(COALESCE(first_seen, excluded.first_seen), "
            "COALESCE(excluded.first_seen, first_seen)), "
            "last_seen = MAX(COALESCE(last_seen, excluded.last_seen), "
            "COALESCE(excluded.last_seen, last_seen)), "
            "log_group = excluded.log_group, "
            "traceback = COALESCE(excluded.traceback, traceback), "
            "text = COALESCE(excluded.text, text)",
            (
                repo,
                fingerprint,
                FixState.NEW.value,
                count,
                first_seen,
                last_seen,
                log_group,
                json.dumps(traceback) if traceback is not None else None,
                text,
            ),
        )
        fix = self.fix(repo, fingerprint)
        assert fix is not None
        return fix

    def update_fix(self, repo: str, fingerprint: str, **values: Any) -> None:
        allowed = {
            "state",
            "pr_number",
            "issue_number",
            "branch",
            "body_updated_at",
            "previous_pr",
        }
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"not fix columns: {sorted(unknown)}")
        if isinstance(values.get("state"), FixState):
            values["state"] = values["state"].value
        columns = ", ".join(f"{name} = ?" for name in values)
        self._db.execute(
            f"UPDATE fixes SET {columns} WHERE repo = ? AND fingerprint = ?",
            (*values.values(), repo, fingerprint),
        )

    # Attempts: one model call and its outcome.

    def add_attempt(
        self,
        *,
        repo: str,
        fingerprint: str,
        kind: str,
        outcome: str,
        pr_number: int | None = None,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost: float | None = None,
        prompt_chars: int | None = None,
        detail: str | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO attempts (repo, fingerprint, pr_number, kind, model, "
            "input_tokens, output_tokens, cost, prompt_chars, outcome, detail, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                repo,
                fingerprint,
                pr_number,
                kind,
                model,
                input_tokens,
                output_tokens,
                cost,
                prompt_chars,
                outcome,
                detail,
                time.time(),
            ),
        )

    def attempts(self, repo: str, fingerprint: str) -> list[sqlite3.Row]:
        return self._db.execute(
            "SELECT * FROM attempts WHERE repo = ? AND fingerprint = ? ORDER BY id",
            (repo, fingerprint),
        ).fetchall()

    def attempts_for_repo(self, repo: str) -> list[sqlite3.Row]:
        return self._db.execute(
            "SELECT * FROM attempts WHERE repo = ? ORDER BY id", (repo,)
        ).fetchall()

    def retries_on(self, repo: str, pr_number: int) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM attempts WHERE repo = ? AND pr_number = ? "
            "AND kind = 'retry'",
            (repo, pr_number),
        ).fetchone()
        return int(row[0])

    # Webhook deliveries and one-time notices.

    def first_delivery(self, delivery_id: str, event: str) -> bool:
        """Record a delivery id; False when it was seen before."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO deliveries (delivery_id, event, received_at) "
            "VALUES (?, ?, ?)",
            (delivery_id, event, time.time()),
        )
        return cursor.rowcount == 1

    def prune_deliveries(self, older_than: float) -> int:
        """Forget old delivery ids; GitHub redelivers within days, not weeks."""
        cursor = self._db.execute(
            "DELETE FROM deliveries WHERE received_at < ?", (older_than,)
        )
        return cursor.rowcount

    def forget_delivery(self, delivery_id: str) -> None:
        self._db.execute("DELETE FROM deliveries WHERE delivery_id = ?", (delivery_id,))

    def first_notice(self, repo: str, number: int, login: str) -> bool:
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO notices (repo, number, login) VALUES (?, ?, ?)",
            (repo, number, login),
        )
        return cursor.rowcount == 1

    # Jobs: the durable queue's rows (see queue.py).

    def add_job(self, kind: str, payload: dict[str, Any], lane: str | None) -> int:
        now = time.time()
        cursor = self._db.execute(
            "INSERT INTO jobs (kind, payload, lane, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (kind, json.dumps(payload), lane, now, now),
        )
        return int(cursor.lastrowid or 0)

    def claim_job(self) -> Job | None:
        """Take the oldest ready job whose lane has nothing running."""
        now = time.time()
        with self.transaction():
            row = self._db.execute(
                "SELECT * FROM jobs AS j WHERE state = 'queued' AND not_before <= ? "
                "AND (lane IS NULL OR NOT EXISTS (SELECT 1 FROM jobs AS r "
                "WHERE r.lane = j.lane AND r.state = 'running')) "
                "AND NOT EXISTS (SELECT 1 FROM jobs AS e WHERE e.lane = j.lane "
                "AND e.state = 'queued' AND e.id < j.id) "
                "ORDER BY id LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE jobs SET state = 'running', tries = tries + 1, "
                "updated_at = ? WHERE id = ?",
                (now, row["id"]),
            )
        return Job(
            id=row["id"],
            kind=row["kind"],
            payload=json.loads(row["payload"]),
            tries=row["tries"] + 1,
            lane=row["lane"],
        )

    def finish_job(self, job_id: int) -> None:
        self._db.execute(
            "UPDATE jobs SET state = 'done', updated_at = ? WHERE id = ?",
            (time.time(), job_id),
        )

    def fail_job(self, job_id: int, error: str, retry_at: float | None) -> None:
        state = "queued" if retry_at is not None else "failed"
        self._db.execute(
            "UPDATE jobs SET state = ?, error = ?, not_before = ?, updated_at = ? "
            "WHERE id = ?",
            (state, error, retry_at or 0, time.time(), job_id),
        )

    def requeue_running_jobs(self) -> int:
        """Put back jobs a stopped process left running."""
        cursor = self._db.execute(
            "UPDATE jobs SET state = 'queued' WHERE state = 'running'"
        )
        return cursor.rowcount

    def pending_jobs(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')"
        ).fetchone()
        return int(row[0])


def _key(row: sqlite3.Row) -> ForwarderKey:
    return ForwarderKey(
        key_id=row["key_id"],
        secret=row["secret"],
        installation_id=row["installation_id"],
        log_group_prefix=row["log_group_prefix"],
        revoked=row["revoked_at"] is not None,
    )


def _fix(row: sqlite3.Row) -> Fix:
    return Fix(
        repo=row["repo"],
        fingerprint=row["fingerprint"],
        state=FixState(row["state"]),
        pr_number=row["pr_number"],
        issue_number=row["issue_number"],
        branch=row["branch"],
        occurrences=row["occurrences"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        log_group=row["log_group"],
        body_updated_at=row["body_updated_at"],
        previous_pr=row["previous_pr"],
        traceback=json.loads(row["traceback"]) if row["traceback"] else None,
        text=row["text"],
    )
