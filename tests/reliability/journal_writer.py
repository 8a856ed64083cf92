"""A process that writes a journal as fast as it can, to be killed mid-write (not a test).

    python journal_writer.py write JOURNAL   # dial-like writes, forever
    python journal_writer.py create FOLDER   # create journal after journal, forever

``write`` prints ``intent SEQ`` once an intent is durable and ``placed SEQ SID`` once a
sid is: whatever it printed must be in the journal after a kill, however it lands.
``create`` prints the name of each journal once it is created. Both print ``ready``
first, once Python has started and imported polyout: a test times its kill from there,
not from the spawn (an import alone can take most of a second on a loaded machine).
"""

from __future__ import annotations

import sys
from pathlib import Path

from polyout._campaign._journal import Journal

READY = "ready"


def write(path: Path) -> None:
    journal = Journal.open(path) if path.exists() else Journal.create(path, {"rate": 1.0}, 0.0)
    journal.settle_interrupted_intents(0.0)
    seq = journal.contact_count()
    while True:
        journal.add_planned(
            seq,
            contact_id=f"c{seq}",
            row=seq + 2,
            to_number=f"+1212{seq:07d}",
            request={"metadata": {"n": str(seq)}},
            zones=(),
            due=0.0,
            now=float(seq),
        )
        attempt = journal.begin_attempt(seq, float(seq))  # commits
        print(f"intent {seq}", flush=True)
        sid = f"OUT-{seq}"
        journal.record_placed(
            seq,
            attempt,
            call_sid=sid,
            call_status="queued",
            correlation_id=None,
            poll_deadline=1e9,
            now=float(seq),
        )  # commits
        print(f"placed {seq} {sid}", flush=True)
        journal.record_status(seq, attempt, call_sid=sid, status="calling", now=float(seq))
        if seq % 3 == 0:  # a batched write left pending, as the runner does
            journal.commit()
        seq += 1


def create(folder: Path) -> None:
    for index in range(100_000):
        name = f"j{index}.db"
        Journal.create(folder / name, {"rate": 1.0, "index": index}, 0.0).close()
        print(name, flush=True)


if __name__ == "__main__":
    mode, target = sys.argv[1], Path(sys.argv[2])
    print(READY, flush=True)
    write(target) if mode == "write" else create(target)
