"""Personal links in e-mails (PORTAL-CONTRACT.md, "Notifier"): which links an e-mail carries, how they read, and
where they go in its text.

A link's secret is issued by tracking when the e-mail is sent and is never stored here: a queued e-mail holds one
marker line per link it will carry (a random marker of its own, so no plan title or agency name can forge one),
and the sender replaces each marker line with the link's paragraph (`fill`). An agency gets its own link ("act":
its pages, to acknowledge, report progress, send the report); a supervising body gets, for each body it is
told is late, a read-only link to that body's page ("view"). Without a personal link (no tracking configured,
or tracking refused one) the paragraph points to the page where a body asks for a link."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from services.notifier.rules.headers import header_text
from shared.domain.clock import VIETNAM, as_utc

Scope = Literal["act", "view"]


@dataclass(frozen=True)
class LinkRequest:
    """A link an e-mail will carry: for `agency`, in `scope`; a view link shows `view_of` (named `view_name`)."""

    agency: str
    scope: Scope = "act"
    view_of: str | None = None
    view_name: str = ""

    def to_row(self) -> dict[str, Any]:
        return {"agency": self.agency, "scope": self.scope, "view_of": self.view_of, "view_name": self.view_name}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LinkRequest:
        scope: Scope = "view" if row.get("scope") == "view" else "act"
        return cls(str(row["agency"]), scope, row.get("view_of"), str(row.get("view_name") or ""))


@dataclass(frozen=True)
class IssuedLink:
    """What goes into the e-mail: a personal link (with its expiry), or the page where a body asks for one."""

    url: str
    personal: bool
    expires_at: datetime | None = None


class Addressed(Protocol):
    """What deciding an e-mail's links needs of each of its items (messages.Item has it)."""

    @property
    def role(self) -> str: ...
    @property
    def agency_code(self) -> str: ...
    @property
    def agency_name(self) -> str: ...
    @property
    def recipient_code(self) -> str: ...


def link_requests(items: Iterable[Addressed]) -> tuple[LinkRequest, ...]:
    """The recipient's own act link when any item is about its own work (asked or copied), then one view link
    per body a supervising recipient is told about, by name."""
    items = list(items)
    requests: list[LinkRequest] = []
    own = next((i for i in items if i.role == "agency" and i.recipient_code), None)
    if own is not None:
        requests.append(LinkRequest(own.recipient_code))
    views: dict[str, LinkRequest] = {}
    for item in items:
        if item.role != "agency" and item.recipient_code and item.agency_code:
            views.setdefault(
                item.agency_code, LinkRequest(item.recipient_code, "view", item.agency_code, item.agency_name)
            )
    return (*requests, *sorted(views.values(), key=lambda r: (r.view_name, r.view_of or "")))


def marker_line(marker: str, index: int) -> str:
    return f"[[{marker}:{index}]]"


def _expiry(link: IssuedLink) -> str:
    if link.expires_at is None:
        return ""
    return f", có giá trị đến ngày {as_utc(link.expires_at).astimezone(VIETNAM):%d/%m/%Y}"


def paragraph(request: LinkRequest, link: IssuedLink) -> str:
    """The sentence introducing the link (the link itself follows on its own line)."""
    if request.scope == "view":
        name = request.view_name or request.view_of or ""
        if link.personal:
            return f"Theo dõi tình hình thực hiện của {name} (chỉ xem, không cần mật khẩu{_expiry(link)}):"
        return f"Đề nghị cấp đường dẫn theo dõi tình hình thực hiện của {name} tại:"
    if link.personal:
        return (
            "Đơn vị truy cập đường dẫn riêng dưới đây để xác nhận đã nhận nhiệm vụ, cập nhật tiến độ và gửi báo cáo "
            f"kèm tệp (không cần mật khẩu{_expiry(link)}). Đường dẫn dành riêng cho đơn vị, đề nghị không chuyển "
            "tiếp thư này:"
        )
    return "Để xác nhận đã nhận nhiệm vụ, cập nhật tiến độ và gửi báo cáo, đơn vị đề nghị cấp đường dẫn truy cập tại:"


def fill(text: str, page: str, marker: str, links: list[tuple[LinkRequest, IssuedLink]]) -> tuple[str, str]:
    """The e-mail's text and HTML with each marker line replaced by its link's paragraph."""
    for index, (request, link) in enumerate(links):
        line = marker_line(marker, index)
        sentence = paragraph(request, link)
        text = text.replace(line, f"{sentence}\n{link.url}")
        url = html.escape(link.url, quote=True)
        page = page.replace(line, f'<p>{html.escape(sentence)}<br><a href="{url}">{url}</a></p>')
    return text, page


@dataclass(frozen=True)
class NewLinkMessage:
    subject: str
    text: str
    html: str


def new_link_message(recipient_name: str, request: LinkRequest, marker: str, contact: str = "") -> NewLinkMessage:
    """The e-mail answering `link.requested`: a new link, sent to the body's registered address."""
    if request.scope == "view":
        what = f"đường dẫn theo dõi tình hình thực hiện của {request.view_name or request.view_of}"
    else:
        what = "đường dẫn truy cập trang của đơn vị trên hệ thống đôn đốc"
    subject = header_text(f"[Đôn đốc] Cấp đường dẫn truy cập mới – {recipient_name}")
    intro = f"Theo đề nghị cấp lại {what}, Hệ thống đôn đốc gửi đơn vị đường dẫn mới dưới đây."
    caution = "Trường hợp đơn vị không đề nghị cấp lại đường dẫn, đề nghị bỏ qua thư này."
    closing = [f"Mọi vướng mắc xin liên hệ: {contact}."] if contact else []
    closing += ["Đây là thư tự động, vui lòng không trả lời thư này.", "Trân trọng,", "Hệ thống đôn đốc"]
    line = marker_line(marker, 0)
    text = [f"Kính gửi: {recipient_name}.", "", intro, "", line, "", caution, "", *closing]
    page = [
        f"<p>Kính gửi: <strong>{html.escape(recipient_name)}</strong>.</p>",
        f"<p>{html.escape(intro)}</p>",
        line,
        f"<p>{html.escape(caution)}</p>",
        *(f"<p>{html.escape(c)}</p>" for c in closing),
    ]
    body = '<!DOCTYPE html><html lang="vi"><meta charset="utf-8"><body>' + "\n".join(page) + "</body></html>\n"
    return NewLinkMessage(subject, "\n".join(text) + "\n", body)
