"""Declared agency kinds in a service's database: seeded from the file, applied from `directory.updated` (the
notifier's copy takes the same path), read back with their names; a whole-directory change that no longer
declares a kind removes it; and over intake's HTTP routes a directory that declares a kind is accepted whole."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from services.intake.config import Settings
from services.intake.main import create_app
from shared.contracts.events import Agency, DirectoryUpdated
from shared.platform.directory_store import DirectoryStore
from tests.integration.conftest import OPERATOR, running
from tests.unit.test_directory_kinds import commune


async def test_declared_kinds_are_stored_applied_and_read_back(mongo_url, database_name, tmp_path: Path) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        store = DirectoryStore(client[f"{database_name}-kinds"])
        now = datetime.now(UTC)
        assert await store.seed(commune(tmp_path), "test", now)
        _, loaded = await store.load()
        assert loaded.declared_kinds == {"party_cell": "Chi bộ Đảng", "thon": "Thôn"} and loaded.problems == []

        group = Agency(code="to-3", kind="to_dan_pho", name="Tổ dân phố số 3", parent="ubnd-xa")
        added = DirectoryUpdated(
            correlation_id="directory", version=1, agencies=[group], kinds={"to_dan_pho": "Tổ dân phố"}
        )
        assert await store.apply(added) == 2
        version, loaded = await store.load()
        assert (
            version == 1 and loaded.kind_name("to_dan_pho") == "Tổ dân phố" and loaded.get("to-3").kind == "to_dan_pho"
        )

        whole = DirectoryUpdated(
            correlation_id="directory",
            version=2,
            agencies=list(loaded.agencies.values()),
            groups=list(loaded.groups.values()),
            kinds={k: v for k, v in loaded.declared_kinds.items() if k != "party_cell"},
            complete=True,
        )
        await store.apply(whole)
        _, loaded = await store.load()
        assert loaded.declared_kinds == {"thon": "Thôn", "to_dan_pho": "Tổ dân phố"}
        assert loaded.kind_name("party_cell") == "Chi bộ"  # its default name again
    finally:
        await client.close()


async def test_a_directory_declaring_a_kind_is_accepted_over_http(service_settings) -> None:
    app = create_app(service_settings(Settings))
    async with running(app, OPERATOR) as http:
        current = await http.get("/directory")
        assert current.status_code == 200, current.text
        body = current.json()
        body.pop("version", None)
        body["kinds"] = {"thon": "Thôn"}
        body["agencies"].append({"code": "thon-dong", "kind": "thon", "name": "Thôn Đông", "parent": "ubnd"})
        replaced = await http.put("/directory", json=body, headers={"If-Match": str(current.json()["version"])})
        assert replaced.status_code == 200, replaced.text
        after = (await http.get("/directory")).json()
        assert (
            after["kinds"] == {"thon": "Thôn"}
            and {"code": "thon-dong"}.items() <= next(a for a in after["agencies"] if a["code"] == "thon-dong").items()
        )
        undeclared = {**after, "kinds": {}}
        undeclared.pop("version", None)
        refused = await http.put("/directory", json=undeclared)
        assert refused.status_code == 422 and "chưa được khai báo" in refused.text
