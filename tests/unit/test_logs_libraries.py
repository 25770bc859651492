"""The libraries' log records (aio-pika, aiormq, uvicorn, pymongo, faststream, asyncio) come out as dondoc's own
do: one JSON line each, with the service, the level and the logger's name, secrets redacted; a connection loss
the library recovers from is one warning line with its reason, not a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from aiormq.exceptions import AMQPConnectionError, ConnectionClosed

from shared.platform.logs import LIBRARY_LOGGERS, configure_logging


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """configure_logging changes structlog and the standard library's loggers for the whole process."""
    saved = structlog.get_config()
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    names = [*LIBRARY_LOGGERS, "faststream.access.rabbit"]
    saved_libraries = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate) for n in names}
    saved_levels = {n: logging.getLogger(n).level for n in names}
    yield
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()
    root.handlers[:], root.level = saved_root
    for name, (handlers, propagate) in saved_libraries.items():
        library = logging.getLogger(name)
        library.handlers[:], library.propagate, library.level = handlers, propagate, saved_levels[name]


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def raised(error: BaseException) -> BaseException:
    """The exception with a real traceback, as a library's except clause has it."""
    try:
        raise error
    except BaseException as caught:  # noqa: BLE001 - any exception, to hand it back with its traceback
        return caught


pytestmark = pytest.mark.usefixtures("logging_restored")


def test_a_library_record_is_a_json_line_with_its_secrets_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("tracking", "json")
    logging.getLogger("aio_pika.robust_connection").warning(
        'Connection attempt to "%s" failed: %s', "amqp://dondoc-tracking:s3cr3t-pass@rabbit:5672/dondoc", "refused"
    )
    try:
        raise RuntimeError("cannot reach mongodb://admin:hunter2-db@mongo:27017/")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    (connection, failure) = lines(capsys)
    assert connection["logger"] == "aio_pika.robust_connection"
    assert connection["level"] == "warning" and connection["service"] == "tracking" and "timestamp" in connection
    assert (
        connection["event"] == 'Connection attempt to "amqp://dondoc-tracking:***@rabbit:5672/dondoc" failed: refused'
    )
    assert failure["level"] == "error" and "Traceback" in failure["exception"]  # an unexpected error keeps it
    assert "hunter2-db" not in json.dumps(failure) and "mongodb://admin:***@mongo" in failure["exception"]


def test_every_library_logger_goes_through_structlog(capsys: pytest.CaptureFixture[str]) -> None:
    faststream = logging.getLogger("faststream")
    faststream.addHandler(logging.StreamHandler())  # as faststream does at import: its own handler, not ours
    faststream.propagate = False
    configure_logging("intake", "json")
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).warning("from %s", name)
    logging.getLogger("pymongo.topology").info("chatter below WARNING stays out")
    assert [(line["logger"], line["event"]) for line in lines(capsys)] == [(n, f"from {n}") for n in LIBRARY_LOGGERS]


def test_a_broker_restart_is_one_warning_line_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("notifier", "json")
    forced = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
    url = "amqp://dondoc-notifier:******@rabbit:5672/dondoc"
    # What aiormq 7 and aio-pika 10 log when the broker restarts, in these words and at these levels (seen with
    # `rabbitmqctl close_connection` under a robust connection, which then reconnected).
    logging.getLogger("aiormq.connection").error(
        'Unexpected connection close from remote "%s", Connection.Close(reply_code=%r, reply_text=%r)', url, 320, forced
    )
    logging.getLogger("aiormq.connection").warning(
        "Cancelling cause reader exited abnormally", exc_info=raised(ConnectionClosed(320, forced))
    )
    logging.getLogger("aio_pika.tools").error(
        "Callback %r error: %s: %s",
        "<OneShotCallback: cb=<bound method RobustChannel._on_close>>",
        "RuntimeError",
        RuntimeError(f'<Connection: "{url}" at 0x7f67338400a0> closed'),
    )
    (close,) = lines(capsys)
    assert close["level"] == "warning" and close["logger"] == "aiormq.connection"
    assert "CONNECTION_FORCED - broker forced connection closure" in close["event"]


def test_a_cut_connection_is_one_warning_line_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("notifier", "json")
    try:
        try:
            raise asyncio.IncompleteReadError(b"", 1)
        except asyncio.IncompleteReadError as cause:
            raise AMQPConnectionError(
                "Server connection unexpectedly closed. Read 0 bytes but 1 bytes expected"
            ) from cause
    except AMQPConnectionError as cut:
        logging.getLogger("aiormq.connection").warning("Cancelling cause reader exited abnormally", exc_info=cut)
    logging.getLogger("pymongo.pool").warning("connection lost", exc_info=raised(ConnectionResetError(104, "reset")))
    output = capsys.readouterr().err
    assert "Traceback" not in output
    cut_line, reset_line = (json.loads(line) for line in output.splitlines())
    assert cut_line["level"] == "warning" and "exception" not in cut_line
    assert (
        cut_line["error"]
        == "AMQPConnectionError: Server connection unexpectedly closed. Read 0 bytes but 1 bytes expected"
    )
    assert reset_line["error"] == "ConnectionResetError: [Errno 104] reset"


def test_other_errors_keep_their_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("notifier", "json")
    aiormq = logging.getLogger("aiormq.connection")
    aiormq.warning("Cancelling cause reader exited abnormally", exc_info=raised(ValueError("malformed frame")))
    aiormq.error("Consumer callback failed", exc_info=raised(ConnectionResetError(104, "reset")))
    aiormq.error("Unexpected connection close from remote %s, %r, %r", "x", 530, "NOT_ALLOWED - vhost not found")
    logging.getLogger("aio_pika.tools").error("Callback %r error: %s: %s", "cb", "RuntimeError", RuntimeError("a bug"))
    unexpected, at_error, not_allowed, callback = lines(capsys)
    assert "Traceback" in unexpected["exception"] and "Traceback" in at_error["exception"]
    assert not_allowed["level"] == "error" and callback["level"] == "error"


def test_configuring_twice_adds_no_second_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("intake", "json")
    configure_logging("intake", "json")
    logging.getLogger("uvicorn.error").warning("once")
    assert len(lines(capsys)) == 1
