"""Several personal links in one call (`POST /links/batch`, what the notifier asks for an e-mail's links) on the real
database: each item answered alone, in order (a refused one does not refuse the others), every issued secret
exchangeable, the maximum and the operator token enforced, refusals in the caller's language."""

from __future__ import annotations

from services.tracking.config import Settings
from services.tracking.link_routes import MAX_LINKS_PER_CALL
from services.tracking.main import create_app
from shared.domain.clock import FakeClock
from tests.integration.conftest import OPERATOR, issue_token, running
from tests.integration.test_tracking_http import NOW

ENGLISH = {**OPERATOR, "Accept-Language": "en"}


async def test_a_batch_answers_each_item_alone_and_issues_the_valid_ones_in_order(service_settings) -> None:
    app = create_app(service_settings(Settings, link_ttl_days=30), clock=FakeClock(NOW))
    items = [
        {"agency": "dang-uy", "scope": "view", "view_of": "chi-bo-1"},
        {"agency": "dang-uy", "scope": "view"},  # a view link without the body it shows: 409, as POST /links
        {"agency": "Not A Code!"},  # not an agency code: 422, as POST /links
        {"agency": "chi-bo-1"},
        "not an object",
    ]
    async with running(app) as http:
        answer = await http.post("/links/batch", json={"links": items}, headers=OPERATOR)
        assert answer.status_code == 200, answer.text
        first, no_view_of, bad_code, own, junk = answer.json()["links"]
        assert [first["status"], no_view_of["status"], bad_code["status"], own["status"], junk["status"]] == [
            201,
            409,
            422,
            201,
            422,
        ]
        assert first["expires_at"].startswith("2027-03-31") and first["secret"] != own["secret"]
        assert "secret" not in no_view_of and "secret" not in bad_code
        assert no_view_of["detail"] == "Đường dẫn loại «view» cần view_of: mã của cơ quan có trang được xem."
        assert bad_code["detail"].startswith("Dữ liệu gửi lên có 1 lỗi: links.2.agency:")
        assert bad_code["errors"][0]["loc"] == ["body", "links", 2, "agency"]
        for issued, who in ((first, ("dang-uy", "view", "chi-bo-1")), (own, ("chi-bo-1", "act", None))):
            made = (await http.post("/links/exchange", json={"secret": issued["secret"]})).json()
            assert (made["agency"], made["scope"], made["view_of"]) == who

        english = (await http.post("/links/batch", json={"links": items[1:3]}, headers=ENGLISH)).json()["links"]
        assert english[0]["detail"] == "a view link needs view_of, the agency whose page it shows"
        assert english[1]["detail"].startswith("The request has 1 error: links.1.agency:")


async def test_a_batch_needs_the_operator_token_and_at_most_the_maximum_of_items(service_settings) -> None:
    app = create_app(service_settings(Settings), clock=FakeClock(NOW))
    async with running(app) as http:
        one = {"links": [{"agency": "chi-bo-1"}]}
        assert (await http.post("/links/batch", json=one)).status_code == 401
        assert (await http.post("/links/batch", json=one, headers={"Authorization": "Bearer nope"})).status_code == 401
        agency = await issue_token(http, "chi-bo-1")
        assert (await http.post("/links/batch", json=one, headers=agency)).status_code == 403
        full = {"links": [{"agency": f"chi-bo-{i}"} for i in range(MAX_LINKS_PER_CALL)]}
        answer = await http.post("/links/batch", json=full, headers=OPERATOR)
        assert answer.status_code == 200 and {item["status"] for item in answer.json()["links"]} == {201}
        assert len({item["secret"] for item in answer.json()["links"]}) == MAX_LINKS_PER_CALL
        too_many = {"links": [*full["links"], {"agency": "one-more"}]}
        refused = await http.post("/links/batch", json=too_many, headers=OPERATOR)
        assert refused.status_code == 422 and "tối đa 100" in refused.json()["detail"]
        empty = await http.post("/links/batch", json={"links": []}, headers=ENGLISH)
        assert empty.status_code == 422 and "at least 1" in empty.json()["detail"]
