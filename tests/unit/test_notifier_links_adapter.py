"""The HTTP adapter of the link port (services/notifier/links.py): how tracking's answers become links or errors,
and which adapter the settings choose. Tracking itself answers in tests/integration/test_notifier_links.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from services.notifier.config import Settings
from services.notifier.links import BATCH, RequestNewLinkPage, TrackingLinks, link_issuer
from services.notifier.rules.links import IssuedLink, LinkRequest
from services.notifier.use_cases.errors import LinkRefused, LinkUnavailable

SECRET = "s3cr3t-AbCdEfGhIjKlMnOpQrStUvWxYz012345"


def adapter(answer: Any) -> tuple[TrackingLinks, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    links = TrackingLinks(
        "http://tracking:8002/", "op-token", "https://web.example/", transport=httpx.MockTransport(handle)
    )
    return links, seen


async def test_an_issued_link_is_the_web_address_with_the_secret() -> None:
    links, seen = adapter(
        httpx.Response(201, json={"link_id": "l1", "secret": SECRET, "expires_at": "2027-01-05T13:41:00+00:00"})
    )
    issued = await links.issue(LinkRequest("dang-uy", "view", "mttq", "MTTQ"))
    assert issued.url == f"https://web.example/l/{SECRET}" and issued.personal
    assert issued.expires_at is not None and issued.expires_at.year == 2027
    (request,) = seen
    assert str(request.url) == "http://tracking:8002/links" and request.headers["Authorization"] == "Bearer op-token"
    assert request.read() == b'{"agency":"dang-uy","scope":"view","view_of":"mttq"}'
    await links.aclose()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(404, json={"detail": "unknown agency"}), LinkRefused),
        (httpx.Response(422, json={"detail": "agency: bad code"}), LinkRefused),
        (httpx.Response(503, json={"detail": "database unavailable"}), LinkUnavailable),
        (httpx.Response(401, json={"detail": "bad token"}), LinkUnavailable),  # may pass once the token is fixed
        (httpx.Response(429, text="slow down"), LinkUnavailable),
        (httpx.Response(201, json={"link_id": "l1"}), LinkUnavailable),  # not the contract's answer
        (httpx.ConnectError("connection refused"), LinkUnavailable),
    ],
)
async def test_tracking_s_answers_become_a_refusal_or_a_failure_that_may_pass(answer: Any, error: type) -> None:
    links, _ = adapter(answer)
    with pytest.raises(error) as raised:
        await links.issue(LinkRequest("chi-bo-khu-1"))
    assert SECRET not in str(raised.value)
    await links.aclose()


async def test_the_settings_choose_tracking_only_with_its_address_and_a_token() -> None:
    assert isinstance(link_issuer(Settings(tracking_url="http://t", tracking_token="x")), TrackingLinks)
    alone = link_issuer(Settings(tracking_url="http://t"))
    assert type(alone) is RequestNewLinkPage
    (issued,) = await link_issuer(Settings(web_public_url="http://127.0.0.1:8004/")).issue_all([LinkRequest("ubnd")])
    assert isinstance(issued, IssuedLink)
    assert (issued.url, issued.personal) == ("http://127.0.0.1:8004/lien-ket-moi", False)


def counted(scope: str, result: str) -> float:
    return REGISTRY.get_sample_value("dondoc_notifier_links_total", {"scope": scope, "result": result}) or 0.0


def batch_answer(*items: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"links": list(items)})


ISSUED = {"status": 201, "link_id": "l1", "secret": SECRET, "expires_at": "2027-01-05T13:41:00+00:00"}


async def test_an_e_mail_s_links_are_one_call_and_a_refused_item_is_refused_alone() -> None:
    requests = [LinkRequest("dang-uy"), LinkRequest("dang-uy", "view", "x"), LinkRequest("dang-uy", "view", "mttq")]
    refusal = {"status": 409, "detail": "a view link shows another body's page"}
    links, seen = adapter(batch_answer(ISSUED, refusal, ISSUED))
    before = {result: counted("view", result) for result in ("issued", "refused")}
    first, refused, third = await links.issue_all(requests)
    assert isinstance(first, IssuedLink) and first.url == f"https://web.example/l/{SECRET}" and first.personal
    assert isinstance(third, IssuedLink) and third.expires_at is not None and third.expires_at.year == 2027
    assert isinstance(refused, LinkRefused) and "409" in str(refused) and "dang-uy" in str(refused)
    (request,) = seen
    assert (
        str(request.url) == "http://tracking:8002/links/batch" and request.headers["Authorization"] == "Bearer op-token"
    )
    assert json.loads(request.read())["links"][1] == {"agency": "dang-uy", "scope": "view", "view_of": "x"}
    assert counted("view", "issued") == before["issued"] + 1 and counted("view", "refused") == before["refused"] + 1
    await links.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        batch_answer(ISSUED, {"status": 503, "detail": "database unavailable"}),  # one item may pass later
        batch_answer(ISSUED),  # fewer answers than links asked
        batch_answer(ISSUED, {"status": 201, "link_id": "l2"}),  # an issued item without its secret
        httpx.Response(503, json={"detail": "database unavailable"}),
        httpx.Response(401, json={"detail": "bad token"}),
        httpx.ConnectError("connection refused"),
    ],
)
async def test_any_link_that_cannot_be_had_now_makes_the_whole_e_mail_wait(answer: Any) -> None:
    links, _ = adapter(answer)
    with pytest.raises(LinkUnavailable) as raised:
        await links.issue_all([LinkRequest("chi-bo-1"), LinkRequest("chi-bo-2")])
    assert SECRET not in str(raised.value)
    await links.aclose()


async def test_a_whole_batch_refused_for_good_refuses_each_link_and_a_long_list_goes_in_chunks() -> None:
    links, _ = adapter(httpx.Response(422, json={"detail": "links: too many"}))
    answers = await links.issue_all([LinkRequest("chi-bo-1"), LinkRequest("chi-bo-2")])
    assert [type(a) for a in answers] == [LinkRefused, LinkRefused]
    sizes: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sizes.append(len(json.loads(request.read())["links"]))
        return batch_answer(*[ISSUED] * sizes[-1])

    chunked = TrackingLinks("http://t", "op", "https://web.example", transport=httpx.MockTransport(handle))
    assert len(await chunked.issue_all([LinkRequest(f"chi-bo-{i}") for i in range(BATCH + 5)])) == BATCH + 5
    assert sizes == [BATCH, 5]
    await links.aclose()
    await chunked.aclose()


async def test_a_tracking_without_the_batch_route_is_asked_one_link_at_a_time() -> None:
    paths: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == "/links/batch":
            return httpx.Response(404, json={"detail": "Not Found"})
        if json.loads(request.read())["agency"] == "khong-co":
            return httpx.Response(409, json={"detail": "refused"})
        return httpx.Response(201, json={"link_id": "l1", "secret": SECRET, "expires_at": None})

    links = TrackingLinks("http://t", "op", "https://web.example", transport=httpx.MockTransport(handle))
    issued, refused = await links.issue_all([LinkRequest("chi-bo-1"), LinkRequest("khong-co")])
    assert isinstance(issued, IssuedLink) and issued.personal and isinstance(refused, LinkRefused)
    assert paths == ["/links/batch", "/links", "/links"]
    await links.aclose()


async def test_without_tracking_every_link_is_the_page_to_ask_for_one() -> None:
    page = RequestNewLinkPage("http://127.0.0.1:8004/")
    answers = await page.issue_all([LinkRequest("ubnd"), LinkRequest("dang-uy", "view", "ubnd")])
    assert [(a.url, a.personal) for a in answers if isinstance(a, IssuedLink)] == [
        ("http://127.0.0.1:8004/lien-ket-moi", False)
    ] * 2
