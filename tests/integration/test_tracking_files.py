"""Report files on the real database and broker: uploads streamed into GridFS with their SHA-256, downloads that
return the same bytes, refusals (too large, not what the name says) that leave nothing stored, access by
ownership, and a report whose files become the deliverables report.submitted carries."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tracemalloc
from typing import Any

from pymongo import AsyncMongoClient

from services.tracking.config import Settings
from services.tracking.main import create_app
from shared.contracts.topology import EVENTS_EXCHANGE
from shared.domain.clock import FakeClock
from tests.conftest import eventually, random_ref
from tests.fixtures.report_files import EXE, docx_bytes, pdf_bytes, zip_bytes
from tests.integration.conftest import OPERATOR, issue_token, running
from tests.integration.test_tracking_consumer import ISSUER, publish
from tests.integration.test_tracking_http import CELL, NOW, _status_is, two_quarters
from tests.integration.test_tracking_links import _link, _session

LIMIT = 600 * 1024  # past two GridFS chunks (255 KiB), so a refusal must remove chunks already written
DOCX_NAME = "Báo cáo quý I – Chi bộ khu 1.docx"


async def _stored(mongo_url: str, database: str) -> tuple[int, int]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        db = client[database]
        return (
            await db["report_files.files"].count_documents({}),
            await db["report_files.chunks"].count_documents({}),
        )
    finally:
        await client.close()


async def _upload(http, base: str, name: str, content: bytes, headers) -> Any:
    """A multipart upload whose file part httpx sends in 64 KiB pieces (a file object, not one bytes value)."""
    part = (name, io.BytesIO(content), "application/octet-stream")
    return await http.post(f"{base}/files", files={"file": part}, headers=headers)


async def _started(http, amqp) -> tuple[str, dict[str, str]]:
    event = two_quarters(random_ref("plan"))
    base = f"/assignments/{event.assignment_id}"
    await publish(amqp, event.routing_key(), event.model_dump_json().encode())
    await eventually(lambda: _status_is(http, base, 200, OPERATOR), what="the assignment to be recorded")
    return base, await _session(http, await _link(http, CELL.code))


async def test_uploaded_files_keep_their_bytes_and_become_the_reports_deliverables(service_settings, amqp) -> None:
    app = create_app(service_settings(Settings), clock=FakeClock(NOW))
    async with running(app) as http:
        queue = await amqp.declare_queue(exclusive=True)
        await queue.bind(await amqp.get_exchange(EVENTS_EXCHANGE), routing_key=f"report.submitted.*.{CELL.code}")
        base, me = await _started(http, amqp)
        # The scan is past the 1 MiB every other request body is held to: the upload route streams its own.
        word, scan = docx_bytes(), pdf_bytes(pages=40) + b"\n%" + os.urandom(3 * 1024 * 1024)
        uploaded = []
        for name, content in ((DOCX_NAME, word), ("ban-chup.pdf", scan)):
            answer = await _upload(http, base, name, content, me)
            assert answer.status_code == 201, answer.text
            assert answer.json()["sha256"] == hashlib.sha256(content).hexdigest()
            assert answer.json()["size"] == len(content)
            uploaded.append(answer.json())
        assert uploaded[0]["file_name"] == DOCX_NAME
        assert uploaded[0]["media_type"].endswith("wordprocessingml.document")
        assert uploaded[1]["media_type"] == "application/pdf"

        download = await http.get(f"/files/{uploaded[0]['file_id']}", headers=me)
        assert download.status_code == 200 and download.content == word
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-type"].endswith("wordprocessingml.document")
        assert download.headers["content-disposition"].startswith('attachment; filename="Bao cao quy I _ Chi bo')
        assert "filename*=UTF-8''B%C3%A1o%20c%C3%A1o" in download.headers["content-disposition"]
        assert (await http.get(f"/files/{uploaded[1]['file_id']}", headers=OPERATOR)).content == scan

        file_ids = [u["file_id"] for u in uploaded]
        report = await http.post(f"{base}/reports", json={"period": "2027-Q1", "file_ids": file_ids}, headers=me)
        assert report.status_code == 200, report.text
        message = await eventually(lambda: queue.get(no_ack=True, fail=False), what="report.submitted")
        delivered = json.loads(message.body)["deliverables"]
        assert [(d["file_name"], d["sha256"], d["size"], d["link"]) for d in delivered] == [
            (u["file_name"], u["sha256"], u["size"], f"/files/{u['file_id']}") for u in uploaded
        ]
        listed = (await http.get(base, headers=me)).json()["periods"]["2027-Q1"]["reports"][0]["deliverables"]
        assert [d["sha256"] for d in listed] == [u["sha256"] for u in uploaded]


async def test_refused_files_leave_nothing_stored(service_settings, amqp, mongo_url, database_name) -> None:
    app = create_app(service_settings(Settings, max_file_bytes=LIMIT), clock=FakeClock(NOW))
    async with running(app) as http:
        base, me = await _started(http, amqp)
        too_large = await _upload(http, base, "lon.pdf", b"%PDF-1.7\n" + bytes(LIMIT), me)
        assert too_large.status_code == 413
        assert too_large.json()["reason"] == "too_large" and too_large.json()["limit"] == LIMIT
        assert await _stored(mongo_url, database_name) == (0, 0)

        disguised = await _upload(http, base, "bao-cao.pdf", EXE + bytes(400 * 1024), me)
        assert disguised.status_code == 415 and disguised.json()["reason"] == "type_mismatch"
        not_word = await _upload(http, base, "bao-cao.docx", zip_bytes() + bytes(400 * 1024), me)
        assert not_word.status_code == 415 and not_word.json()["reason"] == "type_mismatch"
        not_allowed = await _upload(http, base, "setup.exe", EXE, me)
        assert not_allowed.status_code == 415 and not_allowed.json()["reason"] == "type_not_allowed"
        assert await _stored(mongo_url, database_name) == (0, 0)

        no_part = await http.post(f"{base}/files", files={"other": ("a.pdf", pdf_bytes())}, headers=me)
        assert no_part.status_code == 422
        not_multipart = await http.post(f"{base}/files", content=pdf_bytes(), headers=me)
        assert not_multipart.status_code == 422
        assert await _stored(mongo_url, database_name) == (0, 0)


async def test_only_the_owner_uploads_and_only_readers_of_the_assignment_download(service_settings, amqp) -> None:
    app = create_app(service_settings(Settings), clock=FakeClock(NOW))
    async with running(app) as http:
        base, me = await _started(http, amqp)
        stranger = await _session(http, await _link(http, "ubnd"))
        viewer = await _session(http, await _link(http, "dang-uy", "view", CELL.code))
        issuer = await issue_token(http, ISSUER.code, role="issuer")
        other_issuer = await issue_token(http, "ubkt", role="issuer")
        content = pdf_bytes()
        assert (await _upload(http, base, "a.pdf", content, stranger)).status_code == 403
        assert (await _upload(http, base, "a.pdf", content, viewer)).status_code == 403
        assert (await _upload(http, base, "a.pdf", content, {})).status_code == 401
        file_id = (await _upload(http, base, "a.pdf", content, me)).json()["file_id"]
        for reader in (me, viewer, issuer, OPERATOR):
            assert (await http.get(f"/files/{file_id}", headers=reader)).content == content
        for outsider in (stranger, other_issuer):
            assert (await http.get(f"/files/{file_id}", headers=outsider)).status_code == 403
        assert (await http.get("/files/000000000000000000000000", headers=me)).status_code == 404
        assert (await http.get("/files/not-an-id", headers=me)).status_code == 404

        other = two_quarters(random_ref("plan"))
        await publish(amqp, other.routing_key(), other.model_dump_json().encode())
        other_base = f"/assignments/{other.assignment_id}"
        await eventually(lambda: _status_is(http, other_base, 200, me), what="a second assignment")
        wrong = await http.post(f"{other_base}/reports", json={"period": "2027-Q1", "file_ids": [file_id]}, headers=me)
        assert wrong.status_code == 422 and file_id in wrong.json()["detail"]
        theirs = await http.post(f"{base}/reports", json={"period": "2027-Q1", "file_ids": [file_id]}, headers=stranger)
        assert theirs.status_code == 403


async def test_each_agencys_uploads_are_rate_limited(service_settings, amqp, mongo_url, database_name) -> None:
    settings = service_settings(Settings, upload_rate_per_minute=1, upload_rate_burst=1)
    async with running(create_app(settings, clock=FakeClock(NOW))) as http:
        base, me = await _started(http, amqp)
        assert (await _upload(http, base, "a.pdf", pdf_bytes(), me)).status_code == 201
        limited = await _upload(http, base, "b.pdf", pdf_bytes(), me)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        stranger = await _session(http, await _link(http, "ubnd"))
        assert (await _upload(http, base, "c.pdf", pdf_bytes(), stranger)).status_code == 403  # its own bucket
        assert await _stored(mongo_url, database_name) == (1, 1)


async def test_an_upload_is_never_held_whole_in_memory(service_settings, amqp) -> None:
    """The route streams the body into GridFS a chunk at a time: a 12 MB upload raises the process's traced
    memory by a small part of its size (the test's own copy of the bytes is made before tracing starts)."""
    app = create_app(service_settings(Settings), clock=FakeClock(NOW))
    async with running(app) as http:
        base, me = await _started(http, amqp)
        content = pdf_bytes() + os.urandom(12 * 1024 * 1024)
        source = io.BytesIO(content)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            answer = await http.post(
                f"{base}/files", files={"file": ("lon.pdf", source, "application/pdf")}, headers=me
            )
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        assert answer.status_code == 201 and answer.json()["sha256"] == hashlib.sha256(content).hexdigest()
        assert peak < 3 * 1024 * 1024, f"{peak / 1e6:.1f} MB traced for a {len(content) / 1e6:.1f} MB upload"
