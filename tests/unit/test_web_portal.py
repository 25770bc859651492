"""The web portal against a fake of tracking (tests/unit/web_tracking_fake.py): link exchange and its cookie,
expired and revoked links, CSRF on every form, the agency's page in the four groups, actions and their outcome,
uploads streamed to tracking before the report, tracking's refusals in Vietnamese, the read-only page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from services.web.actions import requested_deadline
from services.web.config import Settings
from services.web.main import create_app
from tests.unit.web_tracking_fake import FakeTracking, record

PDF = b"%PDF-1.7\n" + b"x" * 5000
DOCX = b"PK\x03\x04" + b"y" * 3000


@pytest.fixture
def fake() -> FakeTracking:
    tracking = FakeTracking()
    now = datetime.now(UTC)
    tracking.assignments["a1"] = record("a1", "UBND", now + timedelta(days=10))
    tracking.assignments["a2"] = record("a2", "UBND", now - timedelta(days=1), task="Báo cáo <script>alert(1)</script>")
    tracking.assignments["b1"] = record("b1", "MTTQ", now + timedelta(days=10))
    return tracking


@pytest.fixture
def client(fake: FakeTracking) -> Iterator[TestClient]:
    settings = Settings(secret_key="k" * 32, max_file_bytes=10_000, link_attempts_per_minute=5)
    app = create_app(settings, transport=httpx.MockTransport(fake))
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as test_client:
        yield test_client


def sign_in(client: TestClient, fake: FakeTracking, agency: str = "UBND", **link: str) -> None:
    answer = client.get(f"/l/{fake.link(agency, **link)}")
    assert answer.status_code == 303, answer.text


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def form_key(page: str, suffix: str) -> str:
    found = re.search(rf'name="key" value="([0-9a-f]+-{suffix})"', page)
    assert found
    return found.group(1)


def test_a_link_becomes_a_session_cookie_and_leaves_the_address_bar(client: TestClient, fake: FakeTracking) -> None:
    secret = fake.link("UBND")
    with capture_logs() as logs:
        answer = client.get(f"/l/{secret}")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "dondoc_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # the public URL is http here
    assert answer.headers["referrer-policy"] == "no-referrer"
    session = next(iter(fake.sessions))
    assert secret not in repr(logs) and session not in repr(logs)
    page = client.get("/")
    assert page.status_code == 200
    assert "Cơ quan UBND" in page.text and "Quá hạn, chưa báo cáo" in page.text and "Đang trong hạn" in page.text
    assert "Cơ quan MTTQ" not in page.text


def test_an_unknown_link_gets_a_vietnamese_page(client: TestClient) -> None:
    answer = client.get("/l/" + "A" * 43)
    assert answer.status_code == 404 and "Đường dẫn không đúng" in answer.text


@pytest.mark.parametrize(("state", "words"), [("expired", "hết hạn"), ("revoked", "thu hồi")])
def test_an_expired_or_revoked_link_offers_a_new_one(
    client: TestClient, fake: FakeTracking, state: str, words: str
) -> None:
    secret = fake.link("UBND", state=state)
    answer = client.get(f"/l/{secret}")
    assert answer.status_code == 303 and secret not in answer.headers["location"]
    page = client.get(answer.headers["location"])
    assert page.status_code == 410 and words in page.text and "Gửi cho tôi đường dẫn mới" in page.text
    refused = client.post("/lien-ket-moi", data={"csrf": "0" * 64})
    assert refused.status_code == 403 and "/links/renewal" not in fake.paths()
    sent = client.post("/lien-ket-moi", data={"csrf": csrf(page.text)})
    assert sent.status_code == 202 and "địa chỉ thư điện tử đã đăng ký" in sent.text
    renewal = [body for _, path, _, body in fake.calls if path == "/links/renewal"]
    assert renewal and secret.encode() in renewal[0]


def test_link_exchange_is_rate_limited_per_address(client: TestClient, fake: FakeTracking) -> None:
    answers = [client.get("/l/" + "B" * 43).status_code for _ in range(6)]
    assert answers[:5] == [404] * 5 and answers[5] == 429


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, fake: FakeTracking) -> None:
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    posted = client.post("/nhiem-vu/a1/tiep-nhan", data={"key": form_key(page, "tn")})
    assert posted.status_code == 403 and "Biểu mẫu đã hết hiệu lực" in posted.text
    another = client.app.state.portal.csrf.token("another session")  # type: ignore[attr-defined]
    posted = client.post("/nhiem-vu/a1/tiep-nhan", data={"key": form_key(page, "tn"), "csrf": another})
    assert posted.status_code == 403
    assert "/assignments/a1/acknowledge" not in fake.paths()


def test_acknowledge_shows_its_outcome_and_that_the_board_may_lag(client: TestClient, fake: FakeTracking) -> None:
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    assert "Xác nhận đã nhận nhiệm vụ" in page
    posted = client.post("/nhiem-vu/a1/tiep-nhan", data={"csrf": csrf(page), "key": form_key(page, "tn")})
    assert posted.status_code == 303
    call = next(c for c in fake.calls if c[1] == "/assignments/a1/acknowledge")
    assert call[2]["authorization"].startswith("Bearer ") and call[2]["idempotency-key"].endswith("-tn")
    shown = client.get(posted.headers["location"]).text
    assert "Đã xác nhận tiếp nhận nhiệm vụ." in shown and "có thể cần ít phút để cập nhật" in shown
    assert "Đã tiếp nhận" in shown


def test_a_report_streams_each_file_to_tracking_then_submits_their_ids(client: TestClient, fake: FakeTracking) -> None:
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    files = [
        ("files", ("Báo cáo 6 tháng.docx", DOCX, "application/octet-stream")),
        ("files", ("Bản quét.pdf", PDF, "application/pdf")),
    ]
    data = {"csrf": csrf(page), "key": form_key(page, "bc"), "period": "2027-H1", "note": "Đã xong"}
    posted = client.post("/nhiem-vu/a1/bao-cao", data=data, files=files)
    assert posted.status_code == 303, posted.text
    assert fake.paths("POST")[-3:] == ["/assignments/a1/files", "/assignments/a1/files", "/assignments/a1/reports"]
    assert sorted(f["bytes"] for f in fake.files.values()) == sorted([DOCX, PDF])
    assert {f["deliverable"]["file_name"] for f in fake.files.values()} == {"Báo cáo 6 tháng.docx", "Bản quét.pdf"}
    shown = client.get(posted.headers["location"]).text
    assert "Đã nộp báo cáo kỳ 2027-H1 kèm 2 tệp." in shown and "Hoàn thành đúng hạn" in shown
    link = re.search(r'href="(/tep/[0-9a-f]+)">Bản quét.pdf', shown)
    assert link is not None
    assert client.get(link.group(1)).content == PDF


def test_a_file_whose_content_is_not_its_name_is_refused_in_vietnamese(client: TestClient, fake: FakeTracking) -> None:
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    data = {"csrf": csrf(page), "key": form_key(page, "bc"), "period": "2027-H1"}
    posted = client.post(
        "/nhiem-vu/a1/bao-cao", data=data, files=[("files", ("virus.pdf", b"MZ\x90\x00", "application/pdf"))]
    )
    assert posted.status_code == 415 and "không đúng với phần đuôi của tên tệp" in posted.text
    assert "/assignments/a1/reports" not in fake.paths() and not fake.files


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [("chay.exe", b"MZ", 415, "không nhận loại tệp"), ("lon.pdf", b"%PDF-" + b"z" * 20_000, 413, "lớn hơn giới hạn")],
)
def test_the_portal_refuses_a_wrong_kind_or_size_before_asking_tracking(
    client: TestClient, fake: FakeTracking, name: str, content: bytes, status: int, words: str
) -> None:
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    data = {"csrf": csrf(page), "key": form_key(page, "bc"), "period": "2027-H1", "note": "giữ lại ghi chú"}
    posted = client.post(
        "/nhiem-vu/a1/bao-cao", data=data, files=[("files", (name, content, "application/octet-stream"))]
    )
    assert posted.status_code == status and words in posted.text and "giữ lại ghi chú" in posted.text
    assert not [p for p in fake.paths("POST") if p.startswith("/assignments/")]


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (409, {"detail": "x"}, "tỷ lệ mới không được thấp hơn"),
        (422, {"detail": "x"}, "Tỷ lệ hoàn thành phải là số nguyên"),
        (429, {"detail": "x"}, "quá nhiều yêu cầu"),
        (503, {"detail": "x"}, "tạm thời chưa trả lời"),
    ],
)
def test_trackings_refusals_read_in_vietnamese(
    client: TestClient, fake: FakeTracking, status: int, body: dict[str, str], words: str
) -> None:
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    fake.fail["/assignments/a1/progress"] = httpx.Response(status, json=body)
    posted = client.post(
        "/nhiem-vu/a1/tien-do", data={"csrf": csrf(page), "key": form_key(page, "td"), "percent": "40"}
    )
    assert posted.status_code == status and words.lower() in posted.text.lower()


def test_another_agencys_assignment_is_forbidden_by_tracking(client: TestClient, fake: FakeTracking) -> None:
    sign_in(client, fake)
    page = client.get("/nhiem-vu/b1")
    assert page.status_code == 403 and "không có quyền" in page.text
    own = client.get("/nhiem-vu/a1").text
    posted = client.post("/nhiem-vu/b1/tiep-nhan", data={"csrf": csrf(own), "key": form_key(own, "tn")})
    assert posted.status_code == 403 and fake.assignments["b1"]["state"] == "assigned"


def test_a_view_link_shows_a_read_only_page(client: TestClient, fake: FakeTracking) -> None:
    sign_in(client, fake, "DU", scope="view", view_of="UBND")
    page = client.get("/")
    assert "Đang xem (chỉ đọc)" in page.text and "Cơ quan UBND" in page.text
    detail = client.get("/nhiem-vu/a1").text
    assert "Trang chỉ để xem" in detail and "/tiep-nhan" not in detail and 'type="file"' not in detail


def test_a_day_typed_the_vietnamese_way_is_understood() -> None:
    assert requested_deadline("15/07/2027") == requested_deadline("2027-07-15") == "2027-07-15T17:00:00+07:00"


def test_the_page_says_what_the_plan_asks_to_deliver_and_where(client: TestClient, fake: FakeTracking) -> None:
    fake.assignments["a1"]["deliverables_required"] = [
        {
            "items": ["01 file word", "01 file scan"],
            "send_to": "Văn phòng Đảng ủy",
            "wording": "Gửi 01 file word…",
            "provenance": {"section": "IV", "clause": None, "page": None, "line": 52},
        },
        {"items": [], "send_to": "https://drive.example.vn/bao-cao", "wording": "Báo cáo kết quả qua đường dẫn …"},
        {"items": [], "send_to": None, "wording": "says neither what nor where"},
    ]
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    assert "Sản phẩm cần gửi (theo Kế hoạch)" in page
    # as the notice says it (shared/domain/deliverables.py), not the plan's sentence again
    assert "01 file word và 01 file scan, gửi đến Văn phòng Đảng ủy (mục IV, dòng 52 của Kế hoạch)." in page
    assert "Báo cáo kết quả thực hiện, gửi qua đường dẫn https://drive.example.vn/bao-cao." in page
    assert "Gửi 01 file word…" not in page and "says neither" not in page


def test_the_page_says_which_part_of_the_plan_the_task_comes_from(client: TestClient, fake: FakeTracking) -> None:
    fake.assignments["a1"]["provenance"] = [
        {"section": "III", "section_title": "TỔ CHỨC THỰC HIỆN", "clause": "2", "page": 3, "line": 40},
        {"section": "III", "section_title": "TỔ CHỨC THỰC HIỆN", "clause": "5", "page": None, "line": 61},
    ]
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    grounds = "Căn cứ: mục III «Tổ chức thực hiện», khoản 2, trang 3, dòng 40; mục III, khoản 5, dòng 61 của Kế hoạch."
    assert grounds in page
    # Right under the task, before its state.
    assert page.index("Ra quân vệ sinh môi trường.") < page.index(grounds) < page.index("Tình trạng")


def test_a_record_without_a_place_shows_none(client: TestClient, fake: FakeTracking) -> None:
    fake.assignments["a2"]["provenance"] = []
    sign_in(client, fake)
    for assignment_id in ("a1", "a2"):  # a record kept before places were (no key), a structured plan's (empty)
        page = client.get(f"/nhiem-vu/{assignment_id}")
        assert page.status_code == 200 and "Căn cứ" not in page.text and "grounds" not in page.text


def test_a_place_from_a_document_is_escaped(client: TestClient, fake: FakeTracking) -> None:
    fake.assignments["a1"]["provenance"] = [{"section": "IV", "section_title": "<b>Tổ chức</b>", "line": 9}]
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    assert "<b>Tổ chức</b>" not in page and "mục IV «&lt;b&gt;Tổ chức&lt;/b&gt;», dòng 9" in page


def test_names_from_documents_are_escaped(client: TestClient, fake: FakeTracking) -> None:
    sign_in(client, fake)
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_ended_session_gets_a_page_and_loses_its_cookie(client: TestClient, fake: FakeTracking) -> None:
    sign_in(client, fake)
    fake.sessions.clear()
    page = client.get("/")
    assert page.status_code == 401 and "Phiên làm việc đã hết hạn" in page.text
    assert 'dondoc_session=""' in page.headers["set-cookie"] or "Max-Age=0" in page.headers["set-cookie"]


def test_pages_without_a_session_explain_how_to_get_in(client: TestClient) -> None:
    assert "đường dẫn riêng" in client.get("/").text
    help_page = client.get("/lien-ket-moi")
    assert help_page.status_code == 200 and "Gửi cho tôi đường dẫn mới" in help_page.text
    assert client.get("/khong-co").status_code == 404


def test_operational_routes(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["checks"] == {"tracking": True}
    assert "dondoc_http_request" in client.get("/metrics").text


def test_a_report_form_larger_than_all_its_files_may_be_is_cut_off(client: TestClient, fake: FakeTracking) -> None:
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    data = {"csrf": csrf(page), "key": form_key(page, "bc"), "period": "2027-H1"}
    huge = b"%PDF-" + b"0" * (10 * 10_000 + 1024 * 1024 + 10)  # ten files of the limit and the fields' share, passed
    posted = client.post("/nhiem-vu/a1/bao-cao", data=data, files=[("files", ("to.pdf", huge, "application/pdf"))])
    assert posted.status_code == 413 and "quá lớn" in posted.text
    assert not [p for p in fake.paths("POST") if p.startswith("/assignments/")]


def test_the_upload_rate_is_limited_per_session(fake: FakeTracking) -> None:
    settings = Settings(secret_key="k" * 32, uploads_per_minute=2)
    with TestClient(create_app(settings, transport=httpx.MockTransport(fake)), follow_redirects=False) as client:
        sign_in(client, fake)
        page = client.get("/nhiem-vu/a1").text
        data = {"csrf": csrf(page), "key": form_key(page, "bc"), "period": "2027-H1"}
        answers = [
            client.post("/nhiem-vu/a1/bao-cao", data=data, files=[("files", ("a.exe", b"MZ", "x/y"))]) for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [415, 415, 429]
    assert "quá nhiều yêu cầu" in answers[2].text.lower()


def test_progress_and_an_extension_request_reach_tracking_as_its_api_expects(
    client: TestClient, fake: FakeTracking
) -> None:
    sign_in(client, fake)
    page = client.get("/nhiem-vu/a1").text
    posted = client.post(
        "/nhiem-vu/a1/tien-do",
        data={"csrf": csrf(page), "key": form_key(page, "td"), "percent": "40", "note": "Đã họp"},
    )
    assert posted.status_code == 303 and "Đã ghi nhận tiến độ 40%." in client.get(posted.headers["location"]).text
    data = {
        "csrf": csrf(page),
        "key": form_key(page, "gh"),
        "period": "2027-H1",
        "date": "2027-07-15",
        "reason": "Mưa bão",
    }
    posted = client.post("/nhiem-vu/a1/gia-han", data=data)
    assert posted.status_code == 303
    bodies = {path: body for _, path, _, body in fake.calls}
    assert json.loads(bodies["/assignments/a1/progress"]) == {"percent": 40, "note": "Đã họp"}
    assert json.loads(bodies["/assignments/a1/extensions"]) == {
        "period": "2027-H1",
        "requested_due_at": "2027-07-15T17:00:00+07:00",
        "reason": "Mưa bão",
    }
    refused = client.post("/nhiem-vu/a1/gia-han", data={**data, "date": "31/02/2027"})
    assert refused.status_code == 422 and "Vui lòng chọn ngày" in refused.text
