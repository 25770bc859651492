"""The agency directory edited over intake's HTTP routes: checked as a whole, stored with a version, published
as `directory.updated`, kept across restarts, seen by other replicas, and applied by the notifier to its copy."""

from __future__ import annotations

import asyncio
import functools
import json
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest
import uvicorn
import yaml
from pymongo import AsyncMongoClient

from deploy.local.infra import free_port
from services.cli.main import main as cli
from services.intake.config import Settings as IntakeSettings
from services.intake.main import create_app as create_intake
from services.notifier.config import Settings as NotifierSettings
from services.notifier.main import create_app as create_notifier
from services.tracking.config import Settings as TrackingSettings
from services.tracking.main import create_app as create_tracking
from shared.contracts.events import DirectoryUpdated
from shared.contracts.topology import EVENTS_EXCHANGE
from shared.domain.directory import Directory
from shared.platform.auth import install
from shared.platform.directory_store import DirectoryStore
from shared.platform.mongo import in_transaction
from shared.platform.settings import DEFAULT_DIRECTORY
from tests.conftest import eventually, random_ref
from tests.integration.conftest import OPERATOR, issue_token, running
from tests.integration.test_service_auth import asking

pytestmark = pytest.mark.integration


def _ubnd(**changes: Any) -> dict[str, Any]:
    return {
        "code": "ubnd",
        "kind": "ubnd",
        "name": "Ủy ban nhân dân phường Hòa An",
        "aliases": ["UBND phường", "Ủy ban nhân dân phường", "UBND"],
        "emails": ["ubnd@hoa-an.example"],
        **changes,
    }


async def _directory_listener(amqp: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
    exchange = await amqp.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    listener = await amqp.declare_queue(random_ref("listen-"), exclusive=True)
    await listener.bind(exchange, "directory.updated")
    return listener


async def test_a_changed_agency_is_published_once_and_outlives_a_restart(service_settings, amqp) -> None:
    listener = await _directory_listener(amqp)
    settings = service_settings(IntakeSettings)
    async with running(create_intake(settings), OPERATOR) as http:
        first = (await http.get("/directory")).json()
        assert first["version"] == 0 and any(a["code"] == "ubnd" for a in first["agencies"])

        changed = await http.put(
            "/directory/agencies/ubnd", json=_ubnd(emails=["chu-tich@hoa-an.example"]), headers={"If-Match": "0"}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json() == {
            "version": 1,
            "changed": True,
            "agencies_changed": ["ubnd"],
            "groups_changed": [],
            "agencies_removed": [],
            "groups_removed": [],
        }
        again = await http.put("/directory/agencies/ubnd", json=_ubnd(emails=["chu-tich@hoa-an.example"]))
        assert again.json() == {"version": 1, "changed": False}

        message = await eventually(lambda: listener.get(no_ack=True, fail=False), what="directory.updated")
        event = DirectoryUpdated.model_validate(json.loads(message.body))
        assert event.version == 1 and [a.emails for a in event.agencies] == [("chu-tich@hoa-an.example",)]
        assert event.changed_by == "operator:operator" and not event.removed_agencies
        assert await listener.get(no_ack=True, fail=False) is None  # the unchanged PUT published nothing

    async with running(create_intake(settings), OPERATOR) as http:
        agency = (await http.get("/directory/agencies/ubnd")).json()
        assert agency["emails"] == ["chu-tich@hoa-an.example"]
        assert (await http.get("/directory")).json()["version"] == 1


async def test_a_new_alias_resolves_in_the_next_plan(service_settings) -> None:
    async with running(create_intake(service_settings(IntakeSettings)), OPERATOR) as http:
        plan = {
            "issuer": "Đảng ủy phường",
            "number": f"{random_ref('n')}-KH/ĐU",
            "title": "Kế hoạch thử",
            "issued_on": "2026-12-01",
            "deadlines": [{"period": "2027-FY", "due": "2027-12-31"}],
            "assignments": [{"agency": "Chính quyền phường", "task": "Rà soát hồ sơ."}],
        }
        assert (await http.post("/plans", json=plan)).status_code == 422  # not a name the directory knows yet
        aliases = ["UBND phường", "Ủy ban nhân dân phường", "UBND", "Chính quyền phường"]
        assert (await http.put("/directory/agencies/ubnd", json=_ubnd(aliases=aliases))).status_code == 200
        registered = await http.post("/plans", json=plan)
        assert registered.status_code == 201, registered.text
        assert [a["agency"] for a in registered.json()["assignments"]] == ["ubnd"]


async def test_changes_that_would_break_the_directory_are_refused_with_the_reason(service_settings) -> None:
    async with running(create_intake(service_settings(IntakeSettings)), OPERATOR) as http:
        unknown_parent = await http.put("/directory/agencies/ubnd", json=_ubnd(parent="khong-co"))
        assert unknown_parent.status_code == 422 and "khong-co" in unknown_parent.json()["detail"]

        loop = await http.put(
            "/directory/agencies/quan-uy-tuyen-giao",
            json={
                "code": "quan-uy-tuyen-giao",
                "kind": "propaganda_board",
                "name": "Ban Tuyên giáo Quận ủy",
                "parent": "ubkt",
            },
        )  # ubkt → thuong-truc → quan-uy-tuyen-giao → ubkt
        assert loop.status_code == 422 and "bị lặp vòng" in loop.json()["detail"], loop.text

        supervisor = await http.delete("/directory/agencies/thuong-truc")
        assert supervisor.status_code == 409 and "vẫn là cơ quan cấp trên của" in supervisor.json()["detail"]
        english = await http.delete("/directory/agencies/thuong-truc", headers={**OPERATOR, "Accept-Language": "en"})
        assert english.status_code == 409 and "supervises" in english.json()["detail"], english.text

        mismatch = await http.put("/directory/agencies/ubnd", json=_ubnd(code="ubkt"))
        assert mismatch.status_code == 422

        stale = await http.put(
            "/directory/agencies/ubnd", json=_ubnd(name="UBND phường Hòa An"), headers={"If-Match": "7"}
        )
        assert stale.status_code == 412 and "phiên bản 0" in stale.json()["detail"]

        missing = await http.delete("/directory/groups/khong-co")
        assert missing.status_code == 404
        assert (await http.get("/directory")).json()["version"] == 0  # nothing of the above was stored


async def test_an_agency_with_work_assigned_cannot_be_removed(service_settings) -> None:
    async with running(create_intake(service_settings(IntakeSettings)), OPERATOR) as http:
        plan = {
            "issuer": "Đảng ủy phường",
            "number": f"{random_ref('n')}-KH/ĐU",
            "title": "Kế hoạch thử",
            "issued_on": "2026-12-01",
            "deadlines": [{"period": "2027-FY", "due": "2027-12-31"}],
            "assignments": [{"agency": "Chi bộ khu dân cư số 1", "task": "Họp chi bộ."}],
        }
        registered = await http.post("/plans", json=plan)
        assert registered.status_code == 201, registered.text
        refused = await http.delete("/directory/agencies/chi-bo-khu-1")
        assert refused.status_code == 409 and registered.json()["plan_id"] in refused.json()["detail"]
        whole = (await http.get("/directory")).json()
        whole = {"agencies": [a for a in whole["agencies"] if a["code"] != "chi-bo-khu-1"], "groups": whole["groups"]}
        refused_whole = await http.put("/directory", json=whole)
        assert refused_whole.status_code == 409 and registered.json()["plan_id"] in refused_whole.json()["detail"]
        removed = await http.delete("/directory/agencies/chi-bo-khu-2")
        assert removed.status_code == 200 and removed.json()["agencies_removed"] == ["chi-bo-khu-2"]


async def test_only_operators_change_the_directory(service_settings) -> None:
    tracking = create_tracking(service_settings(TrackingSettings))
    intake = create_intake(service_settings(IntakeSettings, operator_token=None))
    install(intake, asking(tracking))
    async with running(tracking) as tracking_http, running(intake) as http:
        issuer = await issue_token(tracking_http, "dang-uy", "issuer")
        assert (await http.get("/directory", headers=issuer)).status_code == 200
        assert (await http.put("/directory/agencies/ubnd", json=_ubnd(), headers=issuer)).status_code == 403
        assert (await http.post("/directory/republish", headers=issuer)).status_code == 403
        assert (await http.put("/directory/agencies/ubnd", json=_ubnd())).status_code == 401
        assert (await http.put("/directory/agencies/ubnd", json=_ubnd(), headers=OPERATOR)).status_code == 200


async def test_another_replica_sees_a_change_within_its_refresh_interval(service_settings) -> None:
    settings = service_settings(IntakeSettings, directory_refresh_seconds=0.2)
    async with (
        running(create_intake(settings), OPERATOR) as first,
        running(create_intake(settings), OPERATOR) as second,
    ):
        await second.get("/directory")
        changed = await first.put("/directory/agencies/ubnd", json=_ubnd(emails=["moi@hoa-an.example"]))
        assert changed.status_code == 200

        async def second_sees_it() -> bool:
            return (await second.get("/directory/agencies/ubnd")).json()["emails"] == ["moi@hoa-an.example"]

        await eventually(second_sees_it, what="the other replica to load version 1")


async def test_two_writers_from_the_same_version_one_wins(mongo_url, database_name) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    store = DirectoryStore(client[database_name])
    now = datetime.now(UTC)
    assert await store.seed(Directory.load(DEFAULT_DIRECTORY), "test", now)
    assert not await store.seed(Directory.load(DEFAULT_DIRECTORY), "test", now)  # seeded once only
    claims = []
    for writer in ("a", "b"):
        claims.append(await in_transaction(client, functools.partial(store.claim_version, 0, writer, now)))
    assert claims == [True, False]
    await client.close()


async def test_the_notifier_applies_each_change_to_its_copy_once(service_settings, database_name) -> None:
    intake = create_intake(service_settings(IntakeSettings))
    notifier = create_notifier(service_settings(NotifierSettings, mongo_database=f"{database_name}_n"))
    async with running(notifier, OPERATOR), running(intake, OPERATOR) as http:
        supervisor = {
            "code": "thuong-truc",
            "kind": "office",
            "name": "Thường trực Đảng ủy phường",
            "aliases": ["Thường trực Đảng ủy", "TTĐU"],
            "emails": ["bi-thu@hoa-an.example"],
            "parent": "quan-uy-tuyen-giao",
        }
        assert (await http.put("/directory/agencies/thuong-truc", json=supervisor)).status_code == 200
        assert (await http.delete("/directory/groups/mat-tran-va-doan-the")).status_code == 200
        addressbook = notifier.state.directories

        async def notifier_has_both() -> bool:
            directory = addressbook.directory
            return ("bi-thu@hoa-an.example",) == directory.get(
                "thuong-truc"
            ).emails and "mat-tran-va-doan-the" not in directory.groups

        await eventually(notifier_has_both, what="the notifier's copy to follow versions 1 and 2")
        assert addressbook.directory.supervisor("ubkt").emails == ("bi-thu@hoa-an.example",)
        republished = await http.post("/directory/republish")
        assert republished.json()["version"] == 3

        async def notifier_at_version_3() -> bool:
            return await DirectoryStore(notifier.state.runtime.db).version() == 3

        await eventually(notifier_at_version_3, what="the complete republication")
        assert addressbook.directory.get("thuong-truc").emails == ("bi-thu@hoa-an.example",)


async def test_a_clerk_exports_edits_and_imports_the_directory_with_the_cli(service_settings, tmp_path) -> None:
    """`dondoc directory export`, an edit of the file, `dondoc directory import`: over real HTTP."""
    port = free_port()
    app = create_intake(service_settings(IntakeSettings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), what="intake to listen")
        common = ["--url", f"http://127.0.0.1:{port}", "--token", OPERATOR["Authorization"].removeprefix("Bearer ")]
        exported = tmp_path / "danh-ba.yaml"
        assert await asyncio.to_thread(cli, ["directory", "export", "--out", str(exported), *common]) == 0
        text = exported.read_text(encoding="utf-8")
        assert text.startswith("# Danh bạ cơ quan, phiên bản 0") and "Ủy ban nhân dân phường Hòa An" in text

        edited = yaml.safe_load(text)
        edited["agencies"] = [a for a in edited["agencies"] if a["code"] != "chi-bo-khu-8"]
        edited["groups"] = [
            {**g, "members": [m for m in g["members"] if m != "chi-bo-khu-8"]} for g in edited["groups"]
        ]
        exported.write_text(yaml.safe_dump(edited, allow_unicode=True), encoding="utf-8")
        assert await asyncio.to_thread(cli, ["directory", "import", str(exported), *common]) == 0
        # The same file again was made from version 0, which is no longer current: refused, nothing changes.
        assert await asyncio.to_thread(cli, ["directory", "import", str(exported), *common]) == 1
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=OPERATOR) as http:
            current = (await http.get("/directory")).json()
        assert current["version"] == 1 and "chi-bo-khu-8" not in {a["code"] for a in current["agencies"]}
    finally:
        server.should_exit = True
        await serving


async def test_a_late_older_change_never_overwrites_a_newer_one(mongo_url, database_name) -> None:
    """What the notifier's copy does with messages out of order, replayed, or a complete republication."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    store = DirectoryStore(client[f"{database_name}_copy"])
    ward = Directory.load(DEFAULT_DIRECTORY)
    await store.seed(ward, "test", datetime.now(UTC))
    ubnd = ward.get("ubnd")

    def change(version: int, **fields: Any) -> DirectoryUpdated:
        return DirectoryUpdated(correlation_id="directory", version=version, **fields)

    assert await store.apply(change(2, agencies=[ubnd.model_copy(update={"emails": ("v2@x.example",)})])) == 1
    assert await store.apply(change(1, agencies=[ubnd.model_copy(update={"emails": ("v1@x.example",)})])) == 0
    assert await store.apply(change(2, agencies=[ubnd.model_copy(update={"emails": ("v2@x.example",)})])) == 0
    assert await store.apply(change(3, removed_agencies=["chi-bo-khu-8"])) == 1
    assert await store.apply(change(1, agencies=[ward.get("chi-bo-khu-8")])) == 0  # the tombstone holds
    version, copy = await store.load()
    assert version == 3 and copy.get("ubnd").emails == ("v2@x.example",) and "chi-bo-khu-8" not in copy.agencies

    everything_but_one = [a for a in copy.agencies.values() if a.code != "chi-bo-khu-7"]
    groups = list(copy.groups.values())
    assert await store.apply(change(4, complete=True, agencies=everything_but_one, groups=groups)) >= 1
    version, copy = await store.load()
    assert version == 4 and "chi-bo-khu-7" not in copy.agencies and copy.get("ubnd").emails == ("v2@x.example",)
    await client.close()
