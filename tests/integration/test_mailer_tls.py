"""E-mail over TLS: STARTTLS and SMTPS against a real aiosmtpd server with its own certificate. With the
deployment's CA file the e-mail goes out; without it the server is not trusted and nothing is sent (the row
waits for a retry), because certificates are always verified."""

from __future__ import annotations

import ssl
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from deploy.local.infra import free_port
from deploy.local.smtp_sink import MailFolder
from services.notifier.config import Settings
from services.notifier.mailer import Mailer
from services.notifier.repository import NotifierRepository
from shared.domain.clock import SystemClock
from shared.platform.mongo import make_client
from tests.conftest import random_ref


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA), made with the openssl command."""
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def queue_one(repository: NotifierRepository) -> str:
    row_id, now = random_ref(), datetime.now(UTC)
    await repository.emails.insert_one(
        {
            "_id": row_id,
            "to": "mttq@hoa-an.example",
            "to_name": "Ủy ban MTTQ phường",
            "subject": "[Đôn đốc] Quá hạn",
            "text": "Kính gửi: Ủy ban Mặt trận Tổ quốc phường,\n",
            "html": "<p>Kính gửi</p>",
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
    )
    return row_id


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
async def test_mail_goes_out_over_tls_only_to_a_server_the_ca_file_vouches_for(
    mode: str, certificate, tmp_path: Path, mongo_url: str, database_name: str
) -> None:
    cert, key = certificate
    port, folder = free_port(), tmp_path / "mail"
    context = server_context(cert, key)
    if mode == "starttls":
        controller = Controller(
            MailFolder(folder), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
        )
    else:
        controller = Controller(MailFolder(folder), hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    client = make_client(mongo_url)
    repository = NotifierRepository(client[database_name])
    try:
        tls = {"smtp_starttls": mode == "starttls", "smtp_tls": mode == "smtps"}
        untrusting = Mailer(
            repository,
            Settings(smtp_port=port, smtp_timeout_seconds=5, mail_retry_base_seconds=0, **tls),
            SystemClock(),
        )
        row_id = await queue_one(repository)
        assert await untrusting.send_pending() == 0  # the system's CAs do not know this server
        row = await repository.emails.find_one({"_id": row_id})
        assert row["status"] == "pending" and "CERTIFICATE_VERIFY_FAILED" in row["last_error"]
        assert not list(folder.glob("*.eml"))

        trusting = Mailer(repository, Settings(smtp_port=port, smtp_ca_file=cert, **tls), SystemClock())
        assert await trusting.send_pending() == 1
        assert len(list(folder.glob("*.eml"))) == 1
    finally:
        controller.stop()
        await client.drop_database(database_name)
        await client.close()
