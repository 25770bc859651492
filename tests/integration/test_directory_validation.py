"""The directory's entry rules through intake's HTTP routes (issue #20): an e-mail field holds exactly one valid
address, and no name, alias or code names two entries. A refused change is answered 422 naming the entry and
the field (or both entries), and changes nothing; a directory stored before the rules existed still loads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.intake.config import Settings as IntakeSettings
from services.intake.main import create_app as create_intake
from shared.contracts.events import Agency
from shared.domain.directory import Directory, DirectoryError
from shared.domain.wording import Wording, wording_of
from shared.platform.directory_store import DirectoryStore
from shared.platform.settings import DEFAULT_DIRECTORY
from tests.conftest import random_ref
from tests.integration.conftest import OPERATOR, running

pytestmark = pytest.mark.integration

WARD = Directory.load(DEFAULT_DIRECTORY)


def _agency(code: str, **fields: Any) -> dict[str, Any]:
    return {"code": code, "kind": "office", "name": f"Cơ quan {code}", "parent": "thuong-truc", **fields}


def _plan(agency: str) -> dict[str, Any]:
    return {
        "issuer": "Đảng ủy phường",
        "number": f"{random_ref('n')}-KH/ĐU",
        "title": "Kế hoạch thử",
        "issued_on": "2026-12-01",
        "deadlines": [{"period": "2027-FY", "due": "2027-12-31"}],
        "assignments": [{"agency": agency, "task": "Rà soát hồ sơ."}],
    }


async def test_invalid_addresses_and_shared_names_are_refused_over_http(service_settings) -> None:
    async with running(create_intake(service_settings(IntakeSettings)), OPERATOR) as http:
        two = await http.put(
            "/directory/agencies/moi", json=_agency("moi", emails=["a@hoa-an.example, b@hoa-an.example"])
        )
        assert two.status_code == 422, two.text
        assert "Cơ quan moi, trường emails[0]" in two.json()["detail"] and "một địa chỉ" in two.json()["detail"]
        for address in ("", "chánh-văn-phòng@hoa-an.example", "van-phong@hoa-an"):
            refused = await http.put(
                "/directory/agencies/moi", json=_agency("moi", emails=["ok@hoa-an.example", address])
            )
            assert refused.status_code == 422 and "Cơ quan moi, trường emails[1]" in refused.json()["detail"], address

        # The attack of the finding: a new agency whose alias is another's name took name resolution over.
        hijack = await http.put(
            "/directory/agencies/moi", json=_agency("moi", aliases=["Uỷ ban nhân dân phường Hòa An"])
        )
        assert hijack.status_code == 422
        assert "cơ quan moi" in hijack.json()["detail"] and "cơ quan ubnd" in hijack.json()["detail"]
        group = await http.put(
            "/directory/groups/nhom-moi", json={"code": "nhom-moi", "name": "Nhóm mới", "aliases": ["VPĐU"]}
        )
        assert group.status_code == 422 and "nhóm nhom-moi" in group.json()["detail"]

        whole = WARD.to_file().model_dump(mode="json")
        whole["agencies"].append(_agency("moi", name="Ủy ban nhân dân phường Hòa An"))
        replaced = await http.put("/directory", json=whole)
        assert replaced.status_code == 422 and "cơ quan ubnd" in replaced.json()["detail"]

        assert (await http.get("/directory")).json()["version"] == 0  # nothing was stored
        registered = await http.post("/plans", json=_plan("Ủy ban nhân dân phường Hòa An"))
        assert registered.status_code == 201, registered.text
        assert [a["agency"] for a in registered.json()["assignments"]] == ["ubnd"]

        accepted = await http.put("/directory/agencies/moi", json=_agency("moi", emails=["moi@hoa-an.example"]))
        assert accepted.status_code == 200 and accepted.json()["version"] == 1


async def test_a_seed_file_with_an_invalid_address_stops_the_service_saying_where(service_settings, tmp_path) -> None:
    seed = tmp_path / "directory.yaml"
    text = DEFAULT_DIRECTORY.read_text(encoding="utf-8").replace("ubnd@hoa-an.example", "ubnd@hoa-an")
    seed.write_text(text, encoding="utf-8")
    with pytest.raises(DirectoryError, match=r"Agency ubnd, emails\[0\]") as refused:  # the log's English
        create_intake(service_settings(IntakeSettings, DIRECTORY_PATH=str(seed)))
    said = wording_of(refused.value)
    assert isinstance(said, Wording) and "Cơ quan ubnd, trường emails[0]" in said.vi


async def test_a_directory_stored_before_the_rules_loads_and_is_mended_entry_by_entry(
    service_settings, mongo_url: str, database_name: str
) -> None:
    old = Agency(code="cu", kind="office", name="Cơ quan cũ", aliases=("UBND",), emails=("a@x, b@y",))
    stored = Directory([*WARD.agencies.values(), old], list(WARD.groups.values()), strict=False)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        assert await DirectoryStore(client[database_name]).seed(stored, "before-issue-20", datetime.now(UTC))
    finally:
        await client.close()
    async with running(create_intake(service_settings(IntakeSettings)), OPERATOR) as http:
        assert any(a["code"] == "cu" for a in (await http.get("/directory")).json()["agencies"])
        renamed = await http.put(
            "/directory/agencies/ubnd", json={**WARD.get("ubnd").model_dump(), "name": "Cơ quan cũ"}
        )
        assert renamed.status_code == 422  # a new shared name; the old ones did not stop this check
        mail = await http.put(
            "/directory/agencies/ubnd", json={**WARD.get("ubnd").model_dump(), "emails": ["u@x.example"]}
        )
        assert mail.status_code == 200, mail.text  # the old problems alone do not block other edits
        fixed = {**old.model_dump(), "aliases": [], "emails": ["cu@hoa-an.example"]}
        assert (await http.put("/directory/agencies/cu", json=fixed)).status_code == 200
        whole = (await http.get("/directory")).json()
        assert (await http.put("/directory", json={k: whole[k] for k in ("agencies", "groups")})).status_code == 200
