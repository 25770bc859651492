"""The notifier's mailer against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

from services.notifier.config import Settings
from services.notifier.mailer import Mailer
from services.notifier.repository import NotifierRepository
from shared.domain.clock import SystemClock
from shared.platform.mongo import make_client
from tests.conftest import random_ref


async def test_queued_mail_is_delivered_once_and_a_dead_server_keeps_it_queued(
    mongo_url: str, database_name: str, mail_folder
) -> None:
    folder, port = mail_folder
    client = make_client(mongo_url)
    repository = NotifierRepository(client[database_name])
    row_id = random_ref()
    now = datetime.now(UTC)
    await repository.emails.insert_one(
        {
            "_id": row_id,
            "to": "mttq@hoa-an.example",
            "to_name": "Ủy ban MTTQ\r\nBcc: ke-xau@example.org",
            "subject": "[Đôn đốc] Quá hạn\r\nBcc: ke-xau@example.org",
            "text": "Kính gửi: Ủy ban Mặt trận Tổ quốc phường,\n",
            "html": "<p>Kính gửi: Ủy ban Mặt trận</p>",
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
    )
    try:
        dead = Mailer(
            repository, Settings(smtp_port=1, smtp_timeout_seconds=2, mail_retry_base_seconds=0), SystemClock()
        )
        assert await dead.send_pending() == 0
        row = await repository.emails.find_one({"_id": row_id})
        assert row["status"] == "pending" and row["attempts"] == 1 and row["claimed_by"] is None

        live = Mailer(repository, Settings(smtp_port=port), SystemClock())
        assert await live.send_pending() == 1
        assert await live.send_pending() == 0
        files = list(folder.glob("*.eml"))
        assert len(files) == 1
        message = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
        assert message["Bcc"] is None
        assert message["Message-ID"] == f"<{row_id}@dondoc>"
        assert "\n" not in str(message["To"]) and "mttq@hoa-an.example" in str(message["To"])
        assert "Ủy ban Mặt trận Tổ quốc phường" in message.get_body(("plain",)).get_content()
        assert "<p>" in message.get_body(("html",)).get_content()
        assert (await repository.emails.find_one({"_id": row_id}))["status"] == "sent"
    finally:
        await client.drop_database(database_name)
        await client.close()
