"""A MongoDB-wire stand-in (SecantusDB) that aborts an abandoned transaction after a few seconds instead of 60.

mongod's `transactionLifetimeLimitSeconds` (default 60) decides how long a dead client's open transaction holds
its documents. The tests that kill a client inside a transaction only need *some* limit to pass; waiting the
full minute made one of them the slowest test of `make test`. SecantusDB's daemon has no flag for it, so this
module starts its documented in-process server class with a shorter lifetime, as its own process:

    python -m tests.integration.quick_reaping_mongo --port 27999 --storage-path /tmp/data --lifetime 5
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from deploy.local.infra import Processes, free_port, mongo_answers, wait_until

LIFETIME_SECONDS = 5.0


@contextmanager
def quick_reaping_mongo(folder: Path, lifetime: float = LIFETIME_SECONDS) -> Iterator[tuple[str, float]]:
    """(url, lifetime): MONGO_URL and mongod's own 60 s when MONGO_URL is given, else a stand-in of our own."""
    given = os.environ.get("MONGO_URL")
    if given:
        yield given, 60.0
        return
    processes = Processes()
    port = free_port()
    argv = [sys.executable, "-m", "tests.integration.quick_reaping_mongo", "--port", str(port)]
    argv += ["--storage-path", str(folder / "data"), "--lifetime", str(lifetime)]
    try:
        processes.start("secantusdb-quick-reaping", argv, folder / "secantusdb.log")
        url = f"mongodb://127.0.0.1:{port}/?retryWrites=false"
        wait_until(lambda: mongo_answers(url), 60, f"SecantusDB (quick reaping) on port {port}")
        yield url, lifetime
    finally:
        processes.stop()


def main() -> None:
    from secantus.server import SecantusDBServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage-path", required=True)
    parser.add_argument("--lifetime", type=float, default=LIFETIME_SECONDS)
    args = parser.parse_args()
    server = SecantusDBServer(
        host="127.0.0.1",
        port=args.port,
        storage_path=args.storage_path,
        enable_test_commands=False,
        transaction_lifetime_seconds=args.lifetime,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    server.wait()


if __name__ == "__main__":
    main()
