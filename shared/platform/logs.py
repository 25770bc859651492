"""structlog set-up: JSON lines in production, readable lines on a terminal, for dondoc's own logs and for the
libraries' (aio-pika, aiormq, uvicorn, pymongo, faststream, asyncio), with secrets redacted from both."""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from pymongo.errors import ConnectionFailure
from structlog.typing import Processor

from shared.platform import tracing

SECRET_KEYS = ("password", "token", "secret", "authorization", "credential", "session")  # session: link sessions
# Secrets inside values: passwords in URLs (amqp://user:pass@host) and bearer tokens in messages.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+):[^@\s]+@", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# The secret of a personal link, `{WEB_PUBLIC_URL}/l/{secret}`, wherever a URL of one is quoted.
_LINK_SECRET = re.compile(r"(/l/)[A-Za-z0-9_-]{16,}")

# The libraries that log through the standard library. Their loggers get no handler of their own: their records
# go to the root logger's, which renders them as structlog does ours.
LIBRARY_LOGGERS = (
    "aio_pika",
    "aiormq",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "pymongo",
    "faststream",
    "asyncio",
)
# A lost broker or database connection that the library reconnects by itself: expected (a broker restart, a
# failover), so its traceback says nothing the exception's one-line reason does not.
TRANSIENT_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    EOFError,
    TimeoutError,
    ConnectionFailure,
)
# AMQP reply code CONNECTION_FORCED: the broker closed the connection on purpose (shutdown, restart, an operator).
_CONNECTION_FORCED = 320
_OUR_HANDLER = "dondoc"


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written, not when logging was set up: loggers are cached on first
    use, and a stream replaced since (pytest's capture, a daemon's redirection) would otherwise be written to
    after it was closed."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR: Any = _CurrentStderr()


def redact(text: str) -> str:
    # Every value of every line passes here: a substring test first, the regular expression (ten times dearer
    # on a short value) only where a secret could be.
    if "@" in text:
        text = _URL_PASSWORD.sub(r"\g<scheme>:***@", text)
    if "bearer" in text.lower():
        text = _BEARER.sub(r"\1***", text)
    if "/l/" in text:
        text = _LINK_SECRET.sub(r"\1***", text)
    return text


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    return any(marker in key.lower() for marker in SECRET_KEYS)


def _redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if _is_secret_key(key):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = redact(value)
    return event


class TransientConnectionErrors(logging.Filter):
    """A connection loss the libraries recover from by themselves is one warning line with its reason.

    What aiormq and aio-pika log for one broker restart, unfiltered: an ERROR "Unexpected connection close from
    remote … CONNECTION_FORCED" (the reason), a WARNING "reader exited abnormally" with the same exception's full
    traceback, and an ERROR from aio-pika's callbacks that a channel's connection is closed — although aio-pika
    reconnects and the service carries on. Here the forced close (reply code 320) is a WARNING, the other two are
    dropped as repetitions of it, and any other known transient error (a reset connection, a timeout, a lost
    database node) at WARNING and below keeps its one line with the reason in `error` but loses the traceback,
    which says nothing more. Everything else passes unchanged: an unexpected failure keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exception = record.exc_info[1] if record.exc_info else None
        if record.levelno <= logging.WARNING and isinstance(exception, TRANSIENT_CONNECTION_ERRORS):
            if _is_forced(exception):
                return False  # the close line said it already
            record.exc_info = None
            record.exc_text = None
            record.error = f"{type(exception).__name__}: {exception}"
        elif _is_forced_close(record):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        elif _is_closed_connection_callback(record):
            return False
        return True


def _is_forced(exception: BaseException) -> bool:
    return isinstance(exception, ConnectionError) and exception.args[:1] == (_CONNECTION_FORCED,)


def _is_forced_close(record: logging.LogRecord) -> bool:
    """aiormq's "Unexpected connection close from remote" with CONNECTION_FORCED as its reply code."""
    args = record.args if isinstance(record.args, tuple) else ()
    return (
        record.name.startswith("aiormq")
        and record.levelno == logging.ERROR
        and str(record.msg).startswith("Unexpected connection close")
        and _CONNECTION_FORCED in args
    )


def _is_closed_connection_callback(record: logging.LogRecord) -> bool:
    """aio-pika's "Callback … error: RuntimeError: <Connection …> closed": a channel told of its connection's loss."""
    args = record.args if isinstance(record.args, tuple) else ()
    failure = args[2] if len(args) == 3 else None  # noqa: PLR2004 - the record's (callback, type name, exception)
    return (
        record.name.startswith("aio_pika")
        and str(record.msg).startswith("Callback")
        and isinstance(failure, RuntimeError)
        and str(failure).startswith("<Connection")
        and str(failure).endswith(" closed")
    )


def _level(name: str) -> int:
    numeric = logging.getLevelName(name.upper())
    return numeric if isinstance(numeric, int) else logging.INFO


def configure_logging(service: str, fmt: str = "auto", level: str = "info") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    # Plain tracebacks on the console: the default (rich, with every frame's locals) took seconds per logged
    # exception on a loaded machine, and a database outage logs one per failed batch.
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    numeric_level = _level(level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            tracing.add_trace_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=_STDERR),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries stay at WARNING or above (their INFO is chatter: every connection, every server start).
    route_library_logs(renderer, max(numeric_level, logging.WARNING))


def route_library_logs(renderer: Processor, level: int) -> None:
    """Send every standard-library record (the libraries') through structlog's processors and `renderer`."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            tracing.add_trace_ids,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(allow=("error",)),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(_STDERR)
    handler.set_name(_OUR_HANDLER)
    handler.setFormatter(formatter)
    handler.addFilter(TransientConnectionErrors())
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.get_name() == _OUR_HANDLER]:
        root.removeHandler(previous)  # configured again (tests, a second start): one handler, not two
    root.addHandler(handler)
    root.setLevel(level)
    existing = [name for name in logging.root.manager.loggerDict if name.startswith(LIBRARY_LOGGERS)]
    for name in {*LIBRARY_LOGGERS, *existing}:
        library = logging.getLogger(name)
        # faststream gives its loggers a coloured handler of their own and stops them propagating.
        library.handlers.clear()
        library.propagate = True
        library.setLevel(level)
