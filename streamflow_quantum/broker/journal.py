"""The broker's journal: what it accepted, ran and answered, kept across restarts.

A broker started with a state directory (``sfq serve --state-dir DIR``; the embedded
broker under StreamFlow's working directory) writes every accepted program, every
batch it hands to the backend and every result to one SQLite file there,
``DIR/broker-journal.sqlite3``. A restarted broker reads it back: programs without a
result queue again in their submission order, batches still running on a backend that
keeps jobs (IBM Quantum) are re-attached by job id, and finished results are served to
their owners until ``keepResults`` expires them.

The file is SQLite in WAL mode with ``synchronous=FULL`` (a commit is on disk when
:meth:`Journal.accept` or :meth:`Journal.finished` returns; a few ms) and
``locking_mode=EXCLUSIVE``: one broker process holds it, a second one opening the same
directory is refused, and no shared-memory file is needed (network filesystems work).
One connection serves every thread behind a lock, so the event loop and the worker
threads that run batches may both write.

Schema (``PRAGMA application_id`` = 0x53465131, "SFQ1"; ``PRAGMA user_version`` =
:data:`SCHEMA_VERSION`; a newer version is refused, an older one migrated by
``_MIGRATIONS``)::

    programs                      one row per accepted program
      seq        INTEGER PRIMARY KEY   submission order
      id         TEXT UNIQUE NOT NULL  the broker's program id (p-...)
      client     TEXT NOT NULL         digest of the client's key (core.client_id)
      key        TEXT                  the client's idempotency key, or NULL
      name       TEXT NOT NULL
      data       BLOB NOT NULL         the circuit file's bytes as submitted
      shots      INTEGER               shots asked for (after the broker's default)
      seed       INTEGER
      submitted  REAL NOT NULL         time.time() when the broker received it
      owner      TEXT                  the user who submitted it, JSON (name, priority, quotas)
      budget     REAL                  the fidelity budget it asked for, or NULL
      finished   REAL                  time.time() of the result; NULL while pending
      record     TEXT                  the result record, JSON; NULL while pending
      UNIQUE (client, key) where key IS NOT NULL: one program per client and key

    batches                       one row per backend job (batch) started
      id         TEXT PRIMARY KEY      the batch id (b-...)
      job        TEXT                  the backend's job id, once known
      state      TEXT NOT NULL         'running' | 'done' | 'failed'
      shots      INTEGER NOT NULL      shots each program of the batch runs
      clbits     INTEGER               the composite circuit's classical bits, if recorded
      started    REAL NOT NULL
      ended      REAL
      reason     TEXT                  why it failed

    batch_programs                which programs a batch runs, and what they got
      batch      TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE
      program    TEXT NOT NULL REFERENCES programs(id) ON DELETE CASCADE
      position   INTEGER NOT NULL      placement index in the batch
      clbit_start, clbit_stop INTEGER  the program's bits in the composite's counts
      counts     TEXT                  this batch's counts for the program, JSON, once done
      PRIMARY KEY (batch, program)

A pending program's ``shots_done`` and ``counts`` are summed over its done batches, so
a program that needs several batches resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamflow_quantum.core.model import ANONYMOUS, Program, User

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

FILENAME = "broker-journal.sqlite3"
SCHEMA_VERSION = 2
APPLICATION_ID = 0x53465131  # "SFQ1"
#: Seconds a second opener waits for the lock before it is refused.
_BUSY_TIMEOUT_S = 1.0

_SCHEMA = """
CREATE TABLE programs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    client TEXT NOT NULL,
    key TEXT,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    shots INTEGER,
    seed INTEGER,
    submitted REAL NOT NULL,
    finished REAL,
    record TEXT,
    owner TEXT,
    budget REAL
);
CREATE UNIQUE INDEX programs_client_key ON programs (client, key) WHERE key IS NOT NULL;
CREATE INDEX programs_finished ON programs (finished);
CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    job TEXT,
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    shots INTEGER NOT NULL,
    clbits INTEGER,
    started REAL NOT NULL,
    ended REAL,
    reason TEXT
);
CREATE INDEX batches_state ON batches (state);
CREATE TABLE batch_programs (
    batch TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    program TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    clbit_start INTEGER,
    clbit_stop INTEGER,
    counts TEXT,
    PRIMARY KEY (batch, program)
);
CREATE INDEX batch_programs_program ON batch_programs (program);
"""

#: ``_MIGRATIONS[v]`` turns a version ``v`` journal into version ``v + 1``.
_MIGRATIONS: dict[int, str] = {
    # 2: who submitted each program, and its fidelity budget.
    1: """
ALTER TABLE programs ADD COLUMN owner TEXT;
ALTER TABLE programs ADD COLUMN budget REAL;
""",
}


class JournalError(RuntimeError):
    """The journal cannot be used; the message is one line that says what to fix."""


@dataclass(frozen=True)
class PendingProgram:
    """An accepted program without a result: what a restarted broker queues again."""

    id: str
    client: str
    name: str
    data: bytes
    shots: int | None
    seed: int | None
    key: str | None
    submitted: float
    #: Shots already run by done batches, and their counts (summed).
    shots_done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    jobs: tuple[str, ...] = ()
    batches: tuple[str, ...] = ()
    user: User = ANONYMOUS
    budget: float | None = None

    def to_program(self, circuit: QuantumCircuit, default_shots: int = 0) -> Program:
        """The Program again, with its id, owner, submission time and the shots it has run."""
        return Program(
            name=self.name,
            circuit=circuit,
            shots=self.shots or default_shots,
            client=self.client,
            user=self.user,
            seed=self.seed,
            fidelity_budget=self.budget,
            id=self.id,
            submitted=self.submitted,
            shots_done=self.shots_done,
            counts=Counter(self.counts),
            jobs=list(self.jobs),
            batches=list(self.batches),
        )


@dataclass(frozen=True)
class RunningBatch:
    """A batch the backend had when the broker stopped: re-attach by ``job``, or run again."""

    id: str
    job: str | None
    shots: int
    started: float
    #: Program ids in placement order.
    programs: tuple[str, ...]
    #: Each program's (start, stop) clbits in the composite's counts, where recorded.
    slices: tuple[tuple[int, int] | None, ...]
    #: The composite circuit's classical bits, where recorded.
    clbits: int | None = None

    def split(self, counts: Mapping[str, int]) -> dict[str, Counter[str]]:
        """Each program's counts out of the composite job's (as ``Batch.split_counts``)."""
        if self.clbits is None or any(s is None for s in self.slices):
            raise ValueError(f"batch {self.id}: its clbit layout was not recorded")
        width = self.clbits
        parts: dict[str, Counter[str]] = {p: Counter() for p in self.programs}
        for key, n in counts.items():
            bits = key.replace(" ", "").zfill(width)
            for program_id, bounds in zip(self.programs, self.slices, strict=True):
                start, stop = bounds or (0, 0)
                parts[program_id][bits[width - stop : width - start]] += n
        return parts


class Journal:
    """Accepted programs, batches and results of one broker, in ``DIR/broker-journal.sqlite3``."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._lock = threading.Lock()

    # -- opening -----------------------------------------------------------------

    @classmethod
    def open(cls, directory: str | Path, *, durable: bool = True) -> Journal:
        """The journal in ``directory`` (created if need be); JournalError if unusable.

        ``durable=False`` (``synchronous=NORMAL``) survives a crash of the broker but not
        of the machine: for tests and throw-away state.
        """
        directory = Path(directory)
        path = directory / FILENAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise JournalError(
                f"cannot create the broker state directory {directory}: {e.strerror}"
            ) from None
        try:
            connection = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise JournalError(f"cannot open the broker journal {path}: {e}") from None
        try:
            cls._prepare(connection, path, durable)
        except JournalError:
            connection.close()
            raise
        except sqlite3.DatabaseError as e:
            connection.close()
            raise JournalError(_explain(path, e)) from None
        return cls(connection, path)

    @staticmethod
    def _prepare(db: sqlite3.Connection, path: Path, durable: bool) -> None:
        # Exclusive before the first access: no -shm file, and one broker per journal.
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application_id != APPLICATION_ID and (application_id or tables):
            raise JournalError(
                f"{path} is not a broker journal (another program's SQLite database); "
                "move it away or choose another --state-dir"
            )
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{path} was written by a newer streamflow-quantum (journal version {version}, "
                f"this one reads up to {SCHEMA_VERSION}); upgrade, or choose another --state-dir"
            )
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"{path}: SQLite refused WAL mode (got {mode})")
        db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        db.execute("PRAGMA foreign_keys = ON")
        # Takes the write lock now, and keeps it (exclusive mode) until close.
        db.execute("BEGIN IMMEDIATE")
        try:
            if application_id == 0:
                _run_script(db, _SCHEMA)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                version = SCHEMA_VERSION
            while version < SCHEMA_VERSION:
                _run_script(db, _MIGRATIONS[version])
                version += 1
            db.execute(f"PRAGMA user_version = {version}")
            problems = [row[0] for row in db.execute("PRAGMA quick_check(1)")]
            if problems != ["ok"]:
                lines = [x for x in str(problems[0]).splitlines() if not x.startswith("***")]
                raise JournalError(
                    f"{path} is damaged ({lines[0] if lines else 'quick_check failed'}); "
                    "move it away to start afresh"
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- programs ----------------------------------------------------------------

    def accept(self, program: Program, data: bytes, key: str | None = None) -> str:
        """Record an accepted program; the id to answer with (an earlier one for a known key)."""
        return self.accept_all([(program, data, key)])[0]

    def accept_all(self, entries: Sequence[tuple[Program, bytes, str | None]]) -> list[str]:
        """:meth:`accept` for several programs in one transaction (one disk write)."""
        ids = []
        with self._transaction() as db:
            for program, data, key in entries:
                cursor = db.execute(
                    "INSERT INTO programs"
                    " (id, client, key, name, data, shots, seed, submitted, owner, budget)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (client, key) WHERE key IS NOT NULL DO NOTHING",
                    (
                        program.id,
                        program.client,
                        key,
                        program.name,
                        data,
                        program.shots,
                        program.seed,
                        program.submitted,
                        json.dumps(dataclasses.asdict(program.user)),
                        program.fidelity_budget,
                    ),
                )
                if cursor.rowcount == 1:
                    ids.append(program.id)
                else:
                    ids.append(
                        db.execute(
                            "SELECT id FROM programs WHERE client = ? AND key = ?",
                            (program.client, key),
                        ).fetchone()[0]
                    )
        return ids

    def find(self, client: str, key: str) -> str | None:
        """The program this client submitted under this idempotency key, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM programs WHERE client = ? AND key = ?", (client, key)
            ).fetchone()
        return None if row is None else str(row[0])

    def finished(self, program_id: str, record: Mapping[str, Any]) -> None:
        """Record a program's result (counts or error); it is pending no more."""
        text = json.dumps(record, separators=(",", ":"))
        with self._transaction() as db:
            db.execute(
                "UPDATE programs SET finished = ?, record = ? WHERE id = ?",
                (time.time(), text, program_id),
            )

    def result(self, program_id: str) -> tuple[str, dict[str, Any]] | None:
        """The owner's client digest and the result record of a finished program."""
        with self._lock:
            row = self._db.execute(
                "SELECT client, record FROM programs WHERE id = ? AND record IS NOT NULL",
                (program_id,),
            ).fetchone()
        if row is None:
            return None
        return str(row[0]), json.loads(row[1])

    def owner(self, program_id: str) -> str | None:
        """The client digest of a program, finished or not; None if unknown."""
        with self._lock:
            row = self._db.execute(
                "SELECT client FROM programs WHERE id = ?", (program_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def pending(self) -> list[PendingProgram]:
        """Accepted programs without a result, in submission order, with the shots already run."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, client, name, data, shots, seed, key, submitted, owner, budget"
                " FROM programs WHERE record IS NULL ORDER BY seq"
            ).fetchall()
            done = self._db.execute(
                "SELECT bp.program, b.id, b.job, b.shots, bp.counts"
                " FROM batch_programs bp JOIN batches b ON b.id = bp.batch"
                " JOIN programs p ON p.id = bp.program"
                " WHERE p.record IS NULL AND b.state = 'done' AND bp.counts IS NOT NULL"
                " ORDER BY b.started, b.rowid"
            ).fetchall()
        progress: dict[str, tuple[int, Counter[str], list[str], list[str]]] = {}
        for program_id, batch_id, job, shots, counts in done:
            shots_done, total, jobs, batches = progress.setdefault(
                program_id, (0, Counter(), [], [])
            )
            total.update(json.loads(counts))
            jobs.append(job or "")
            batches.append(batch_id)
            progress[program_id] = (shots_done + shots, total, jobs, batches)
        pending = []
        for program_id, client, name, data, shots, seed, key, submitted, owner, budget in rows:
            shots_done, total, jobs, batches = progress.get(program_id, (0, Counter(), [], []))
            pending.append(
                PendingProgram(
                    id=program_id,
                    client=client,
                    name=name,
                    data=bytes(data),
                    shots=shots,
                    seed=seed,
                    key=key,
                    submitted=submitted,
                    shots_done=shots_done,
                    counts=dict(total),
                    jobs=tuple(jobs),
                    batches=tuple(batches),
                    user=User(**json.loads(owner)) if owner else ANONYMOUS,
                    budget=budget,
                )
            )
        return pending

    def forget_before(self, timestamp: float) -> int:
        """Drop results finished before ``timestamp`` (keepResults expiry); how many went."""
        with self._transaction() as db:
            gone = db.execute(
                "DELETE FROM programs WHERE finished IS NOT NULL AND finished < ?", (timestamp,)
            ).rowcount
            db.execute(
                "DELETE FROM batches WHERE state != 'running'"
                " AND id NOT IN (SELECT batch FROM batch_programs)"
            )
        return int(gone)

    # -- batches -----------------------------------------------------------------

    def batch_started(
        self,
        batch_id: str,
        job_id: str | None,
        program_ids: Sequence[str],
        *,
        shots: int = 0,
        slices: Sequence[tuple[int, int] | slice] | None = None,
        clbits: int | None = None,
    ) -> None:
        """Record a batch handed to the backend (``job_id`` None until the backend names it).

        ``slices`` are the programs' clbit slices in the composite's counts
        (``Batch.clbit_slices``) and ``clbits`` the composite's width
        (``batch.composite.num_clbits``): what re-attaching to the job needs to split
        its counts (:meth:`RunningBatch.split`).
        """
        if slices is not None and len(slices) != len(program_ids):
            raise ValueError(f"{len(slices)} slices for {len(program_ids)} programs")
        bounds = [_bounds(s) for s in slices] if slices is not None else [None] * len(program_ids)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO batches (id, job, state, shots, clbits, started)"
                " VALUES (?, ?, 'running', ?, ?, ?)",
                (batch_id, job_id, shots, clbits, time.time()),
            )
            db.executemany(
                "INSERT INTO batch_programs (batch, program, position, clbit_start, clbit_stop)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (batch_id, program_id, position, *(b if b is not None else (None, None)))
                    for position, (program_id, b) in enumerate(
                        zip(program_ids, bounds, strict=True)
                    )
                ],
            )

    def batch_job(self, batch_id: str, job_id: str) -> None:
        """Record the backend's job id of a running batch, as soon as the backend has one."""
        with self._transaction() as db:
            db.execute("UPDATE batches SET job = ? WHERE id = ?", (job_id, batch_id))

    def batch_done(
        self,
        batch_id: str,
        job_id: str | None = None,
        counts: Mapping[str, Mapping[str, int]] | None = None,
    ) -> None:
        """A batch ran; ``counts`` maps program id to its counts from this batch.

        Counts matter for programs that need more batches: they resume with them.
        """
        with self._transaction() as db:
            db.execute(
                "UPDATE batches SET state = 'done', ended = ?, job = coalesce(?, job) WHERE id = ?",
                (time.time(), job_id, batch_id),
            )
            db.executemany(
                "UPDATE batch_programs SET counts = ? WHERE batch = ? AND program = ?",
                [
                    (json.dumps(dict(part), separators=(",", ":")), batch_id, program_id)
                    for program_id, part in (counts or {}).items()
                ],
            )

    def batch_failed(self, batch_id: str, reason: str) -> None:
        """A batch failed or was abandoned; its programs stay pending unless finished."""
        with self._transaction() as db:
            db.execute(
                "UPDATE batches SET state = 'failed', ended = ?, reason = ? WHERE id = ?",
                (time.time(), reason, batch_id),
            )

    def running_jobs(self) -> list[RunningBatch]:
        """Batches still marked running (the broker stopped while they ran), oldest first."""
        with self._lock:
            batches = self._db.execute(
                "SELECT id, job, shots, clbits, started FROM batches WHERE state = 'running'"
                " ORDER BY started, rowid"
            ).fetchall()
            members = self._db.execute(
                "SELECT bp.batch, bp.program, bp.clbit_start, bp.clbit_stop"
                " FROM batch_programs bp JOIN batches b ON b.id = bp.batch"
                " WHERE b.state = 'running' ORDER BY bp.batch, bp.position"
            ).fetchall()
        programs: dict[str, list[tuple[str, tuple[int, int] | None]]] = {}
        for batch_id, program_id, start, stop in members:
            bound = None if start is None else (int(start), int(stop))
            programs.setdefault(batch_id, []).append((program_id, bound))
        return [
            RunningBatch(
                id=batch_id,
                job=job,
                shots=shots,
                started=started,
                programs=tuple(p for p, _ in programs.get(batch_id, [])),
                slices=tuple(b for _, b in programs.get(batch_id, [])),
                clbits=clbits,
            )
            for batch_id, job, shots, clbits, started in batches
        ]


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Statements one by one, inside the caller's transaction (executescript may commit)."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _bounds(s: tuple[int, int] | slice) -> tuple[int, int]:
    if isinstance(s, slice):
        return int(s.start or 0), int(s.stop)
    return int(s[0]), int(s[1])


def _explain(path: Path, error: sqlite3.DatabaseError) -> str:
    text = str(error)
    if "locked" in text or "busy" in text:
        return (
            f"the broker journal {path} is in use by another broker; "
            "stop it or choose another --state-dir"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"{path} is not a usable broker journal ({text}); move it away to start afresh"
    return f"cannot use the broker journal {path}: {text}"
