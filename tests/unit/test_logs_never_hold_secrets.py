"""Secrets and tokens never reach the logs: not as fields, not inside messages, URLs or tracebacks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from shared.platform.logs import configure_logging, redact


@pytest.fixture
def logging_configured_for_this_test() -> Iterator[None]:
    """configure_logging changes structlog for the whole process; put back what other tests run with."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()


@pytest.mark.usefixtures("logging_configured_for_this_test")
def test_secrets_are_redacted_from_fields_values_and_tracebacks(capsys) -> None:
    configure_logging("test", "json")
    log = structlog.get_logger()
    log.info("connecting", url="amqp://tracking:s3cr3t-pass@rabbit:5672/dondoc", operator_token="tok-123456")
    log.info("request", note="header was Authorization: Bearer ddc_abcdefghijkl")
    try:
        raise ConnectionError("cannot reach mongodb://admin:hunter2-db@mongo:27017/")
    except ConnectionError:
        log.exception("failed")
    output = capsys.readouterr().err
    for secret in ("s3cr3t-pass", "tok-123456", "ddc_abcdefghijkl", "hunter2-db"):
        assert secret not in output
    assert "amqp://tracking:***@rabbit:5672/dondoc" in output
    assert "mongodb://admin:***@mongo" in output


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "Kế hoạch số 85-KH/ĐU: báo cáo 6 tháng, http://example.org/a:b"
    assert redact(text) == text


def test_a_personal_links_secret_is_redacted_wherever_its_url_is_quoted() -> None:
    secret = "Zq3xY_8-abcdefghijklmnopqrstuvwxyz0123456789A"
    assert redact(f"sending http://127.0.0.1:8004/l/{secret} to ubnd") == "sending http://127.0.0.1:8004/l/*** to ubnd"
    assert redact("Kế hoạch 85-KH/ĐU /l/ngan") == "Kế hoạch 85-KH/ĐU /l/ngan"  # too short to be a secret
