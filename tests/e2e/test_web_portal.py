"""The web portal in a browser (Debian's Chromium driven by Playwright) against the real services, broker,
database and SMTP server (issue 18): from the assignment notice in the SMTP sink an agency opens its link,
acknowledges, uploads a .docx and a .pdf and sees the period turn "done on time"; tracking lists both files with the
SHA-256 of the bytes sent; another agency's link is refused; expired and revoked links get a Vietnamese page that
offers a new link; a form without its CSRF token is refused; an executable renamed .pdf is refused and nothing is
stored; at a phone's width (390 px) the task and the buttons fit. Every page visited is saved as a screenshot in
the test's output folder (and in SCREENS_COPY when that folder exists)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from deploy.local.infra import Processes, free_port, http_ready, wait_until
from shared.platform.auth import hash_token
from tests.conftest import random_ref
from tests.unit.documents_support import FIXTURES

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
SERVICES = ("intake", "tracking", "notifier", "web")
OPERATOR_TOKEN = "e2e-operator-token"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
# A phone in Vietnam: Chromium on Linux takes its interface language (the date field's dd/mm/yyyy, the file
# button's text) from these, with Debian's chromium-l10n installed (`make test-tools`); --lang alone is ignored.
VIETNAMESE_BROWSER = {**os.environ, "LANGUAGE": "vi", "LANG": "vi_VN.UTF-8"}
SCREENS_COPY = Path(os.environ.get("DONDOC_SCREENS_DIR", "/work/wt/screens"))
DEADLINE_SECONDS = 150  # long enough for the browser's steps; the overdue scan is checked after it
LINK = re.compile(r"http://127\.0\.0\.1:\d+/l/[A-Za-z0-9_-]+")
EXECUTABLE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run"
)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test-tools)")


@dataclass
class Stack:
    urls: dict[str, str]
    mail: Path
    mongo_url: str
    tracking_db: str


@pytest.fixture
def stack(own_vhost: str, mongo_url: str, mail_folder: tuple[Path, int], tmp_path: Path) -> Iterator[Stack]:
    folder, smtp_port = mail_folder
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    run = random_ref()
    env = {
        "AMQP_URL": own_vhost,
        "MONGO_URL": mongo_url,
        "LOG_FORMAT": "json",
        "AUTH_URL": urls["tracking"],
        "TRACKING_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "NOTIFIER_SCAN_INTERVAL_SECONDS": "0.5",
        "NOTIFIER_SENDING_WINDOW": "always",
        "NOTIFIER_TRACKING_URL": urls["tracking"],
        "NOTIFIER_TRACKING_TOKEN": OPERATOR_TOKEN,
        "NOTIFIER_WEB_PUBLIC_URL": urls["web"],
        "WEB_TRACKING_URL": urls["tracking"],
        "WEB_PUBLIC_URL": urls["web"],
        "WEB_SECRET_KEY": "e2e-web-secret-key-of-32-characters",
    }
    for name, port in ports.items():
        env[f"{name.upper()}_HTTP_PORT"] = str(port)
        env[f"{name.upper()}_MONGO_DATABASE"] = f"dondoc_e2e_{name}_{run}"
    processes = Processes()
    try:
        for name in SERVICES:
            processes.start(name, [sys.executable, "-m", f"services.{name}"], tmp_path / f"{name}.log", env)
            wait_until(
                lambda name=name: (processes.check_alive(), http_ready(f"{urls[name]}/readyz"))[1],
                60,
                f"{name} ready (log {tmp_path / f'{name}.log'})",
            )
        yield Stack(urls, folder, mongo_url, f"dondoc_e2e_tracking_{run}")
    finally:
        processes.stop()


class Screens:
    """Every page the test visits, saved in order under the test's output folder (and copied for review)."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def shoot(self, page: Any, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.prefix}-{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if SCREENS_COPY.parent.exists():
            SCREENS_COPY.mkdir(exist_ok=True)
            shutil.copy(path, SCREENS_COPY / path.name)
        return path


def mails_to(folder: Path, address: str) -> list[EmailMessage]:
    parser = BytesParser(policy=policy.default)
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = parser.parsebytes(path.read_bytes())
        if address in str(message.get("To", "")):
            found.append(message)  # type: ignore[arg-type]
    return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def link_in_mail(folder: Path, address: str, after: int = 0) -> str:
    """The personal link of the newest e-mail to `address` past the first `after` ones."""
    found: list[str] = []

    def arrived() -> bool:
        found[:] = [m for message in mails_to(folder, address)[after:] for m in LINK.findall(text_of(message))]
        return bool(found)

    wait_until(arrived, 60, f"an e-mail with a personal link to {address}")
    return found[-1]


def docx_bytes() -> bytes:
    from docx import Document

    document = Document()
    document.add_paragraph("Báo cáo kết quả thực hiện nhiệm vụ 6 tháng.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Bao cao ket qua")
    return bytes(pdf.output())


def submit_plan(stack: Stack, due: datetime) -> dict[str, str]:
    plan = {
        "issuer": "Đảng ủy phường",
        "number": f"{random_ref('w')}-KH/ĐU",
        "title": "Kế hoạch triển khai phong trào “Phường Hòa An sáng – xanh – sạch” năm 2027",
        "assignments": [
            {"agency": "UBND phường", "task": "Chỉ đạo các tổ dân phố ra quân vệ sinh môi trường vào sáng Chủ nhật."},
            {"agency": "UBMTTQ phường", "task": "Vận động nhân dân tham gia, tổng hợp ý kiến."},
        ],
        "deadlines": [{"period": "2027-H1", "due": due.isoformat(), "wording": "báo cáo 6 tháng"}],
    }
    response = httpx.post(f"{stack.urls['intake']}/plans", json=plan, headers=OPERATOR, timeout=30)
    assert response.status_code == 201, response.text
    return {a["agency"]: a["assignment_id"] for a in response.json()["assignments"]}


def stored_files(stack: Stack) -> int:
    with MongoClient(stack.mongo_url) as client:
        return int(client[stack.tracking_db]["report_files.files"].count_documents({}))


def fits_the_width(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def assert_phone_layout(page: Any) -> None:
    """At 390 px: no horizontal scrolling, and the task and every button inside the screen's width."""
    assert fits_the_width(page), "the page scrolls sideways at 390 px"
    width = page.viewport_size["width"]
    for locator in [page.locator(".task").first, *page.locator("main button").all()]:
        box = locator.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, locator


def submit_without_csrf(page: Any, action: str) -> None:
    """A form POST built in the page, with every field but the CSRF token (as a forged form would be)."""
    with page.expect_navigation():
        page.evaluate(
            """(action) => {
                const form = document.createElement("form");
                form.method = "post"; form.action = action;
                for (const [name, value] of [["percent", "50"], ["key", "forged-1"]]) {
                    const input = document.createElement("input");
                    input.type = "hidden"; input.name = name; input.value = value; form.appendChild(input);
                }
                document.body.appendChild(form); form.submit();
            }""",
            action,
        )


def test_an_agency_reports_from_the_assignment_notice(stack: Stack, tmp_path: Path) -> None:
    web, tracking = stack.urls["web"], stack.urls["tracking"]
    due = datetime.now(UTC) + timedelta(seconds=DEADLINE_SECONDS)
    assignments = submit_plan(stack, due)
    ubnd_link = link_in_mail(stack.mail, "ubnd@hoa-an.example")
    mttq_link = link_in_mail(stack.mail, "mttq@hoa-an.example")
    ubnd_page = f"{web}/nhiem-vu/{assignments['ubnd']}"
    screens = Screens(tmp_path / "screens", "bao-cao")
    word, scan = docx_bytes(), pdf_bytes()
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--lang=vi-VN"], env=VIETNAMESE_BROWSER)
        page = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN").new_page()
        page.goto(ubnd_link)
        assert page.url == f"{web}/", "the secret must leave the address bar"
        screens.shoot(page, "danh-sach")
        assert fits_the_width(page)
        page.get_by_role("link", name=re.compile("Xem và báo cáo")).first.click()
        assert page.url == ubnd_page
        screens.shoot(page, "nhiem-vu")
        assert "Chỉ đạo các tổ dân phố" in page.locator(".task").first.inner_text()
        assert page.locator(".grounds").count() == 0, "a structured plan has no place in a document to cite"
        assert_phone_layout(page)

        page.get_by_role("button", name="Xác nhận đã nhận nhiệm vụ").click()
        playwright_api.expect(page.locator("#ket-qua")).to_contain_text("Đã xác nhận tiếp nhận nhiệm vụ.")
        playwright_api.expect(page.locator("#ket-qua")).to_contain_text("có thể cần ít phút để cập nhật")
        screens.shoot(page, "da-tiep-nhan")

        submit_without_csrf(page, f"{ubnd_page}/tien-do")
        assert "Biểu mẫu đã hết hiệu lực" in page.content()
        screens.shoot(page, "thieu-ma-csrf")
        record = httpx.get(f"{tracking}/assignments/{assignments['ubnd']}", headers=OPERATOR, timeout=10).json()
        assert record["progress"] == 0 and record["state"] == "acknowledged"

        page.goto(ubnd_page)
        files_before = stored_files(stack)
        renamed = {"name": "bao-cao.pdf", "mimeType": "application/pdf", "buffer": EXECUTABLE}
        page.set_input_files("#bc-tep", files=[renamed])
        page.get_by_role("button", name="Nộp báo cáo").click()
        playwright_api.expect(page.locator("#ket-qua")).to_contain_text("không đúng với phần đuôi của tên tệp")
        screens.shoot(page, "tep-chay-doi-ten-pdf")
        assert stored_files(stack) == files_before, "a refused file must leave nothing stored"

        page.set_input_files(
            "#bc-tep",
            files=[
                {"name": "Báo cáo 6 tháng.docx", "mimeType": "application/octet-stream", "buffer": word},
                {"name": "Bản quét có chữ ký.pdf", "mimeType": "application/pdf", "buffer": scan},
            ],
        )
        page.locator("#bc-ghi-chu").fill("Đã triển khai ở 12/12 tổ dân phố.")
        page.get_by_role("button", name="Nộp báo cáo").click()
        playwright_api.expect(page.locator("#ket-qua")).to_contain_text("Đã nộp báo cáo kỳ 2027-H1 kèm 2 tệp.")
        playwright_api.expect(page.locator(".card-done_on_time")).to_contain_text("Hoàn thành đúng hạn")
        screens.shoot(page, "da-nop-bao-cao")
        href = page.get_by_role("link", name="Bản quét có chữ ký.pdf").get_attribute("href")
        downloaded = page.request.get(f"{web}{href}")
        assert downloaded.status == 200 and downloaded.body() == scan

        other = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        other.goto(mttq_link)
        screens.shoot(other, "co-quan-khac")
        answer = other.goto(ubnd_page)
        assert answer is not None and answer.status in (403, 404)
        assert "không có quyền" in other.content() or "Không tìm thấy" in other.content()
        screens.shoot(other, "co-quan-khac-bi-tu-choi")

        view = {"agency": "thuong-truc", "scope": "view", "view_of": "ubnd"}
        secret = httpx.post(f"{tracking}/links", json=view, headers=OPERATOR, timeout=10).json()["secret"]
        reader = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        reader.goto(f"{web}/l/{secret}")
        assert "Đang xem (chỉ đọc)" in reader.content()
        screens.shoot(reader, "chi-xem-danh-sach")
        reader.goto(ubnd_page)
        assert "Trang chỉ để xem" in reader.content() and reader.locator("main form").count() == 0
        screens.shoot(reader, "chi-xem-nhiem-vu")
        browser.close()

    record = httpx.get(f"{tracking}/assignments/{assignments['ubnd']}", headers=OPERATOR, timeout=10).json()
    [report] = record["periods"]["2027-H1"]["reports"]
    assert report["late_by_seconds"] == 0
    assert sorted(d["sha256"] for d in report["deliverables"]) == sorted(
        hashlib.sha256(content).hexdigest() for content in (word, scan)
    )
    assert {d["file_name"] for d in report["deliverables"]} == {"Báo cáo 6 tháng.docx", "Bản quét có chữ ký.pdf"}

    # The overdue notice goes to the body that did not report, never to the one that did.
    notices_to_ubnd = len(mails_to(stack.mail, "ubnd@hoa-an.example"))
    wait_until(
        lambda: len(mails_to(stack.mail, "mttq@hoa-an.example")) >= 2, DEADLINE_SECONDS + 60, "mttq's overdue notice"
    )
    time.sleep(2)
    assert len(mails_to(stack.mail, "ubnd@hoa-an.example")) == notices_to_ubnd == 1


def test_the_assignment_page_says_where_the_plan_assigns_the_task(stack: Stack, tmp_path: Path) -> None:
    """A plan read from a document: under the task, the part of the plan it comes from, readable on a phone."""
    web, tracking = stack.urls["web"], stack.urls["tracking"]
    text = (FIXTURES / "ward-greening-plan.txt").read_text(encoding="utf-8")  # the stack's databases are its own
    line = next(n for n, words in enumerate(text.splitlines(), start=1) if words.startswith("1. UBND phường"))
    files = {"file": ("kế hoạch.txt", text.encode(), "text/plain")}
    submitted = httpx.post(f"{stack.urls['intake']}/plans/document", files=files, headers=OPERATOR, timeout=60)
    assert submitted.status_code == 201, submitted.text
    plan = httpx.get(f"{stack.urls['intake']}/plans/{submitted.json()['plan_id']}", headers=OPERATOR, timeout=10)
    assignment_id = next(a["assignment_id"] for a in plan.json()["assignments"] if a["agency"] == "ubnd")
    wait_until(
        lambda: httpx.get(f"{tracking}/assignments/{assignment_id}", headers=OPERATOR, timeout=10).status_code == 200,
        60,
        "tracking to record the assignment",
    )
    answer = httpx.post(f"{tracking}/links", json={"agency": "ubnd", "scope": "act"}, headers=OPERATOR, timeout=10)
    assert answer.status_code == 201, answer.text
    screens = Screens(tmp_path / "screens", "can-cu")
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--lang=vi-VN"], env=VIETNAMESE_BROWSER)
        page = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN").new_page()
        page.goto(f"{web}/l/{answer.json()['secret']}")
        page.goto(f"{web}/nhiem-vu/{assignment_id}")
        screens.shoot(page, "nhiem-vu-tu-van-ban")
        grounds = page.locator(".grounds")
        playwright_api.expect(grounds).to_have_text(
            f"Căn cứ: mục III «Tổ chức thực hiện», khoản 1, dòng {line} của Kế hoạch."
        )
        box, task = grounds.bounding_box(), page.locator(".task").first.bounding_box()
        assert box is not None and task is not None and box["y"] >= task["y"] + task["height"], "under the task"
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert_phone_layout(page)
        browser.close()


def test_links_that_no_longer_work_offer_a_new_one(stack: Stack, tmp_path: Path) -> None:
    web, tracking = stack.urls["web"], stack.urls["tracking"]
    issued = {}
    for agency in ("ubnd", "mttq"):
        answer = httpx.post(f"{tracking}/links", json={"agency": agency, "scope": "act"}, headers=OPERATOR, timeout=10)
        assert answer.status_code == 201, answer.text
        issued[agency] = answer.json()["secret"]
    with MongoClient(stack.mongo_url) as client:
        past = datetime.now(UTC) - timedelta(days=1)
        client[stack.tracking_db]["links"].update_one(
            {"_id": hash_token(issued["ubnd"])}, {"$set": {"expires_at": past}}
        )
    revoked = httpx.delete(f"{tracking}/links", params={"agency": "mttq"}, headers=OPERATOR, timeout=10)
    assert revoked.status_code == 200 and revoked.json()["revoked"] >= 1
    screens = Screens(tmp_path / "screens", "lien-ket")
    mails_before = len(mails_to(stack.mail, "ubnd@hoa-an.example"))
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--lang=vi-VN"], env=VIETNAMESE_BROWSER)
        for agency, words, name in (("ubnd", "đã hết hạn", "het-han"), ("mttq", "đã bị thu hồi", "thu-hoi")):
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            page.goto(f"{web}/l/{issued[agency]}")
            assert issued[agency] not in page.url
            assert words in page.content() and fits_the_width(page)
            screens.shoot(page, name)
            if agency == "ubnd":
                page.get_by_role("button", name="Gửi cho tôi đường dẫn mới").click()
                playwright_api.expect(page.locator("h1")).to_have_text("Đã đề nghị gửi đường dẫn mới")
                screens.shoot(page, "da-de-nghi")
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        page.goto(f"{web}/lien-ket-moi")
        screens.shoot(page, "huong-dan")
        page.goto(f"{web}/")
        screens.shoot(page, "chua-dang-nhap")
        browser.close()
    new_link = link_in_mail(stack.mail, "ubnd@hoa-an.example", after=mails_before)
    assert new_link != f"{web}/l/{issued['ubnd']}"
    assert httpx.get(new_link, timeout=10).status_code == 303
