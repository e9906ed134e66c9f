"""On SQLite with `sqlite_immediate` (the API's engine) a read session does not take the
write lock: it answers while a writer holds it, instead of waiting for it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from decnet_lib.db import init_db, make_engine
from decnet_lib.master.database import read_session, write_session


def test_a_read_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'decnet.db'}", sqlite_immediate=True)
    init_db(engine)
    answered: list[float] = []

    def read() -> None:
        began = time.perf_counter()
        with read_session(engine) as session:
            assert session is not None
            session.execute(text("SELECT count(*) FROM topologies")).scalar()
        answered.append(time.perf_counter() - began)

    try:
        with write_session(engine) as writer:
            writer.execute(text("UPDATE topologies SET status = status"))  # holds the lock
            reader = threading.Thread(target=read)
            reader.start()
            reader.join(5)
            assert answered and answered[0] < 2.0, "the read waited for the writer"
        with engine.connect() as connection:  # a plain transaction still takes the lock
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
