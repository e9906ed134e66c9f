"""The agent's event journal: sequence numbers that survive reopening, an epoch per file."""

from __future__ import annotations

import threading
from pathlib import Path

from decnet_lib.logs.journal import EventJournal


def test_sequence_numbers_survive_reopening_and_reads_page(tmp_path: Path) -> None:
    path = tmp_path / "j" / "events.db"
    with EventJournal(path) as journal:
        epoch = journal.epoch
        assert journal.append_many([({"n": i}, None) for i in range(5)]) == [1, 2, 3, 4, 5]
    with EventJournal(path) as journal:  # the agent restarted
        assert journal.epoch == epoch
        assert journal.append({"n": 5}) == 6
        assert [e.seq for e in journal.read(2, 3)] == [3, 4, 5]
        assert [e.event["n"] for e in journal.read(5, 100)] == [5]
        assert journal.read(6, 10) == [] and journal.last_seq() == 6
        assert journal.append({"n": 6}, key="c1:100:ab") == 7
        assert journal.append({"n": 6}, key="c1:100:ab") is None  # replayed: once
        assert journal.last_seq() == 7
    path.unlink()
    with EventJournal(path) as journal:  # a new file: a new epoch, numbers start over
        assert journal.epoch != epoch and journal.append({}) == 1


def test_writers_in_threads_and_a_second_reader_see_every_event_once(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    writer, reader = EventJournal(path), EventJournal(path)
    try:
        threads = [threading.Thread(target=lambda k=k: [writer.append({"k": k, "i": i})
                                                        for i in range(50)]) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seen, after = [], 0
        while page := reader.read(after, 33):
            seen.extend(page)
            after = page[-1].seq
        assert [e.seq for e in seen] == list(range(1, 201))
        assert len({(e.event["k"], e.event["i"]) for e in seen}) == 200
        assert reader.epoch == writer.epoch
    finally:
        writer.close()
        reader.close()


def test_page_is_the_events_answer_and_a_foreign_epoch_reads_from_the_start(
    tmp_path: Path,
) -> None:
    with EventJournal(tmp_path / "events.db") as journal:
        journal.append_many([({"n": i}, None) for i in range(3)])
        page = journal.page(1, 10, journal.epoch)
        assert page["epoch"] == journal.epoch and page["last"] == 3
        assert [(e["seq"], e["n"]) for e in page["events"]] == [(2, 1), (3, 2)]
        assert [e["seq"] for e in journal.page(3, 10, "other-epoch")["events"]] == [1, 2, 3]
        assert journal.page(3, 10) == {"epoch": journal.epoch, "events": [], "last": 3}
        # only a page asked with the journal's own epoch acknowledges (what pruning trusts)
        assert journal.acked() == 1
        journal.page(3, 10, "other-epoch")
        journal.page(3, 10)
        assert journal.acked() == 1
        journal.page(3, 10, journal.epoch)
        assert journal.acked() == 3
