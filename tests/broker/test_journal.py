"""The broker's journal alone: what a restarted broker gets back, and refusals of bad files."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from streamflow_quantum.broker.journal import (
    FILENAME,
    SCHEMA_VERSION,
    Journal,
    JournalError,
    PendingProgram,
)
from streamflow_quantum.core.model import Program

ALICE, BOB = "a" * 64, "b" * 64
QASM = b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nmeasure q -> c;\n'


def program(name: str, client: str = ALICE, shots: int = 100, seed: int | None = None) -> Program:
    return Program(name=name, circuit=None, shots=shots, client=client, seed=seed)  # type: ignore[arg-type]


def record(p: Program, counts: dict[str, int]) -> dict[str, object]:
    return {"circuit": p.name, "id": p.id, "shots": p.shots, "counts": counts}


def test_accepted_programs_and_results_survive_close_and_reopen(tmp_path: Path) -> None:
    first, second = program("first", seed=7), program("second", shots=5)
    with Journal.open(tmp_path) as journal:
        assert journal.accept(first, QASM) == first.id
        assert journal.accept(second, b"QISKIT\x00binary", "key-2") == second.id
        journal.finished(first.id, record(first, {"0": 100}))
    with Journal.open(tmp_path) as journal:
        assert journal.result(first.id) == (ALICE, record(first, {"0": 100}))
        assert journal.result(second.id) is None
        (pending,) = journal.pending()
    assert pending == PendingProgram(
        id=second.id,
        client=ALICE,
        name="second",
        data=b"QISKIT\x00binary",
        shots=5,
        seed=None,
        key="key-2",
        submitted=second.submitted,
    )
    rebuilt = pending.to_program(circuit="parsed")  # type: ignore[arg-type]
    assert (rebuilt.id, rebuilt.client, rebuilt.name, rebuilt.shots, rebuilt.submitted) == (
        second.id,
        ALICE,
        "second",
        5,
        second.submitted,
    )
    assert (rebuilt.circuit, rebuilt.shots_done, rebuilt.counts) == ("parsed", 0, {})


CRASHING_BROKER = """
import os, sys, time
from streamflow_quantum.broker.journal import Journal
from streamflow_quantum.core.model import Program

journal = Journal.open(sys.argv[1])
programs = [Program(name=f"c{i}", circuit=None, shots=10 + i, client="a" * 64) for i in range(11)]
for p in programs:
    journal.accept(p, f"circuit {p.name}".encode(), f"key-{p.name}")
for i in (1, 4, 9):
    journal.finished(programs[i].id, {"id": programs[i].id, "counts": {"1": 10 + i}})
journal.batch_started("b-running", "ibm-job-42", [programs[0].id, programs[2].id], shots=10,
                      slices=[slice(0, 2), slice(2, 5)], clbits=5)
print(" ".join(p.id for p in programs), flush=True)
# Killed in the middle of a write: this program must not be in the journal.
journal._db.execute("BEGIN IMMEDIATE")
journal._db.execute(
    "INSERT INTO programs (id, client, name, data, submitted) VALUES ('p-torn', 'x', 'torn', x'', 0)"
)
print("writing", flush=True)
time.sleep(600)
"""


def test_a_broker_killed_mid_write_leaves_its_pending_programs_in_order(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(CRASHING_BROKER))
    state = tmp_path / "state"
    child = subprocess.Popen(
        [sys.executable, str(script), str(state)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        ids = child.stdout.readline().split()
        assert child.stdout.readline() == "writing\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert len(ids) == 11
    with Journal.open(state) as journal:
        pending = journal.pending()
        assert [p.id for p in pending] == [ids[i] for i in range(11) if i not in (1, 4, 9)]
        assert [p.name for p in pending] == [f"c{i}" for i in (0, 2, 3, 5, 6, 7, 8, 10)]
        assert [p.shots for p in pending] == [10 + i for i in (0, 2, 3, 5, 6, 7, 8, 10)]
        assert pending[0].data == b"circuit c0"
        for i in (1, 4, 9):
            assert journal.result(ids[i]) == (ALICE, {"id": ids[i], "counts": {"1": 10 + i}})
        assert journal.owner("p-torn") is None
        (running,) = journal.running_jobs()
        assert (running.id, running.job, running.shots) == ("b-running", "ibm-job-42", 10)
        assert running.programs == (ids[0], ids[2])
        assert running.slices == ((0, 2), (2, 5))
        # What re-attaching to the job does with its counts (clbit 0 rightmost).
        assert running.split({"11101": 6, "0 0010": 4}) == {
            ids[0]: {"01": 6, "10": 4},
            ids[2]: {"111": 6, "000": 4},
        }
        # Resubmitting after the crash finds the same programs: nothing runs twice.
        assert journal.find(ALICE, "key-c0") == ids[0]
        assert journal.find(ALICE, "key-c1") == ids[1]


def test_an_idempotency_key_names_one_program_per_client(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        original = program("ghz")
        assert journal.find(ALICE, "k1") is None
        assert journal.accept(original, QASM, "k1") == original.id
        again = program("ghz")
        assert journal.accept(again, QASM, "k1") == original.id  # a retry: the first id
        assert journal.find(ALICE, "k1") == original.id
        bobs = program("ghz", client=BOB)
        assert journal.accept(bobs, QASM, "k1") == bobs.id  # keys are per client
        assert journal.find(BOB, "k1") == bobs.id
        keyless = [program("x"), program("x")]
        assert journal.accept_all([(p, QASM, None) for p in keyless]) == [p.id for p in keyless]
        assert [p.id for p in journal.pending()] == [original.id, bobs.id, *(p.id for p in keyless)]
        # Still the same program once it has a result.
        journal.finished(original.id, record(original, {"0": 1}))
        assert journal.accept(program("ghz"), QASM, "k1") == original.id


def test_a_result_names_its_owner(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        mine = program("mine")
        journal.accept(mine, QASM)
        assert journal.owner(mine.id) == ALICE
        assert journal.result(mine.id) is None  # pending: not served from the journal
        journal.finished(mine.id, record(mine, {"1": 100}))
        owner, _ = journal.result(mine.id) or ("", {})
        assert owner == ALICE != BOB
        assert journal.result("p-unknown") is None
        assert journal.owner("p-unknown") is None


def test_done_batches_give_a_pending_program_its_shots_so_far(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        long, short = program("long", shots=300), program("short", shots=100)
        journal.accept_all([(long, QASM, None), (short, QASM, None)])
        journal.batch_started("b-1", None, [long.id, short.id], shots=100)
        journal.batch_job("b-1", "job-1")
        journal.batch_done("b-1", counts={long.id: {"0": 60, "1": 40}, short.id: {"0": 100}})
        journal.finished(short.id, record(short, {"0": 100}))
        journal.batch_started("b-2", None, [long.id], shots=100)
        journal.batch_done("b-2", "job-2", counts={long.id: {"0": 50, "1": 50}})
        journal.batch_started("b-3", None, [long.id], shots=100)
        journal.batch_failed("b-3", "backend went away")
        journal.batch_started("b-4", None, [long.id], shots=100)
    with Journal.open(tmp_path) as journal:
        (pending,) = journal.pending()
        assert (pending.shots_done, pending.counts) == (200, {"0": 110, "1": 90})
        assert (pending.jobs, pending.batches) == (("job-1", "job-2"), ("b-1", "b-2"))
        rebuilt = pending.to_program(circuit=None)  # type: ignore[arg-type]
        assert (rebuilt.shots_left, rebuilt.jobs) == (100, ["job-1", "job-2"])
        (running,) = journal.running_jobs()
        assert (running.id, running.job, running.programs, running.slices) == (
            "b-4",
            None,
            (long.id,),
            (None,),
        )
        with pytest.raises(ValueError, match="b-4: its clbit layout was not recorded"):
            running.split({"0": 1})


def test_forgetting_drops_old_results_only(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        old, fresh, waiting = program("old"), program("fresh"), program("waiting")
        journal.accept_all([(p, QASM, f"k-{p.name}") for p in (old, fresh, waiting)])
        journal.batch_started("b-old", "job-old", [old.id], shots=100)
        journal.batch_done("b-old", counts={old.id: {"0": 100}})
        journal.finished(old.id, record(old, {"0": 100}))
        horizon = time.time()
        journal.finished(fresh.id, record(fresh, {"0": 100}))
        assert journal.forget_before(horizon) == 1
        assert journal.result(old.id) is None
        assert journal.find(ALICE, "k-old") is None
        assert journal.result(fresh.id) is not None
        assert [p.id for p in journal.pending()] == [waiting.id]
        count = journal._db.execute("SELECT count(*) FROM batches").fetchone()[0]
        assert count == 0


def test_threads_may_share_one_journal(tmp_path: Path) -> None:
    with Journal.open(tmp_path, durable=False) as journal:
        programs = [[program(f"t{t}-{i}") for i in range(20)] for t in range(4)]

        def write(mine: list[Program]) -> None:
            for p in mine:
                journal.accept(p, QASM)
                journal.finished(p.id, record(p, {"0": 1}))

        threads = [threading.Thread(target=write, args=(mine,)) for mine in programs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert journal.pending() == []
        assert all(journal.result(p.id) for mine in programs for p in mine)


def one_line_error(directory: Path) -> str:
    with pytest.raises(JournalError) as caught:
        Journal.open(directory)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_file_that_is_not_a_journal_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_bytes(b"this is no database, just text\n" * 200)
    message = one_line_error(tmp_path)
    assert message.startswith(f"{tmp_path / FILENAME} is not a usable broker journal")
    assert message.endswith("move it away to start afresh")


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / FILENAME)
    other.execute("CREATE TABLE accounts (name TEXT)")
    other.commit()
    other.close()
    assert one_line_error(tmp_path) == (
        f"{tmp_path / FILENAME} is not a broker journal (another program's SQLite database); "
        "move it away or choose another --state-dir"
    )


def test_a_damaged_journal_is_refused(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.accept_all([(program(f"p{i}"), QASM * 20, None) for i in range(50)])
    data = bytearray((tmp_path / FILENAME).read_bytes())
    assert len(data) > 3 * 4096
    data[4096 + 200 : 3 * 4096] = b"\xab" * (2 * 4096 - 200)
    (tmp_path / FILENAME).write_bytes(bytes(data))
    message = one_line_error(tmp_path)
    assert message.startswith(str(tmp_path / FILENAME))
    assert "move it away to start afresh" in message


def test_a_journal_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Journal.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / FILENAME)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    assert "written by a newer streamflow-quantum" in one_line_error(tmp_path)


def test_a_second_broker_cannot_open_a_journal_in_use(tmp_path: Path) -> None:
    with Journal.open(tmp_path):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys\n"
                "from streamflow_quantum.broker.journal import Journal, JournalError\n"
                "try:\n    Journal.open(sys.argv[1])\n"
                "except JournalError as e:\n    print(e)\n",
                str(tmp_path),
            ],
            capture_output=True,
            check=False,
            text=True,
            timeout=60,
        )
    assert done.stdout.strip() == (
        f"the broker journal {tmp_path / FILENAME} is in use by another broker; "
        "stop it or choose another --state-dir"
    )
    Journal.open(tmp_path).close()  # free again once the first one closed


def test_an_unusable_state_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    message = one_line_error(tmp_path / "file" / "state")
    assert message.startswith(f"cannot create the broker state directory {tmp_path}/file/state")


def test_a_version_1_journal_is_migrated_and_keeps_who_submitted(tmp_path) -> None:
    """A journal written before users existed opens; programs accepted after keep their user
    and fidelity budget across a restart."""
    import sqlite3

    from qiskit import QuantumCircuit

    from streamflow_quantum.broker.journal import FILENAME, Journal
    from streamflow_quantum.core.model import ANONYMOUS, Program, User

    with Journal.open(tmp_path) as journal:
        old = Program("old", QuantumCircuit(1, 1), 10, client="c")
        journal.accept(old, b"data")
    db = sqlite3.connect(tmp_path / FILENAME)  # back to version 1, as an older broker wrote it
    db.execute("ALTER TABLE programs DROP COLUMN owner")
    db.execute("ALTER TABLE programs DROP COLUMN budget")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    alice = User("alice", priority=3, max_queued=5, device_s=60.0)
    with Journal.open(tmp_path) as journal:
        new = Program("new", QuantumCircuit(1, 1), 10, client="c", user=alice, fidelity_budget=0.1)
        journal.accept(new, b"data")
        pending = {p.name: p for p in journal.pending()}
    assert pending["old"].user is ANONYMOUS or pending["old"].user == ANONYMOUS
    program = pending["new"].to_program(QuantumCircuit(1, 1))
    assert program.user == alice and program.fidelity_budget == 0.1
