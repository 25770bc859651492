"""A fake of tracking's HTTP API as the web portal uses it (docs/security.md, "Personal links, sessions and report
files"), for httpx.MockTransport: links, sessions, an agency's assignments, actions, files. It decides rights the
way tracking does (an agency only its own, a viewer only reads) so the portal's pages can be tested to show
tracking's answers, not to make their own."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.tracking.domain import period_status

NOW = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)


def answered(assignment: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A record as tracking's API answers it: each period with its status at `now` (the time of the request)."""
    at = now or datetime.now(UTC)
    periods = {
        key: {**period, "status": period_status({**period, "due_at": datetime.fromisoformat(period["due_at"])}, at)}
        for key, period in assignment["periods"].items()
    }
    return {**assignment, "periods": periods}


def record(assignment_id: str, agency: str, due: datetime, task: str = "Ra quân vệ sinh môi trường.") -> dict[str, Any]:
    return {
        "assignment_id": assignment_id,
        "plan_id": "plan1",
        "plan_number": "07-KH/ĐU",
        "plan_title": "Kế hoạch phong trào “Phường sáng – xanh – sạch”",
        "agency": {"code": agency, "kind": "ubnd", "name": f"Cơ quan {agency}"},
        "issuer": {"code": "DU", "kind": "dang_uy", "name": "Đảng ủy phường Hòa An"},
        "task": task,
        "state": "assigned",
        "progress": 0,
        "periods": {"2027-H1": {"due_at": due.isoformat(), "wording": "báo cáo 6 tháng", "reports": []}},
        "period_keys": ["2027-H1"],
        "created_at": NOW.isoformat(),
    }


@dataclass
class FakeTracking:
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    fail: dict[str, httpx.Response] = field(default_factory=dict)  # path -> forced answer

    def link(self, agency: str, scope: str = "act", view_of: str | None = None, state: str = "valid") -> str:
        secret = secrets.token_urlsafe(32)
        self.links[secret] = {"agency": agency, "scope": scope, "view_of": view_of, "state": state}
        return secret

    def session(self, agency: str, role: str = "agency") -> str:
        token = secrets.token_urlsafe(32)
        self.sessions[token] = (agency, role)
        return token

    def paths(self, method: str | None = None) -> list[str]:
        return [path for m, path, _, _ in self.calls if method is None or m == method]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        path = request.url.path
        self.calls.append((request.method, path, dict(request.headers), body))
        if path in self.fail:
            return self.fail[path]
        if path.startswith("/links/"):
            return self._links(path, json.loads(body))
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        who = self.sessions.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if who is None:
            return httpx.Response(401, json={"detail": "the token is unknown or has been revoked"})
        return self._authorised(request.method, path, who, body, request)

    def _links(self, path: str, body: dict[str, Any]) -> httpx.Response:
        link = self.links.get(body.get("secret", ""))
        if link is None:
            return httpx.Response(404, json={"detail": "unknown link"})
        if path == "/links/renewal":
            return httpx.Response(202, json={"agency": link["agency"]})
        if link["state"] != "valid":
            return httpx.Response(410, json={"detail": "link over", "reason": link["state"]})
        role, code = ("agency", link["agency"]) if link["scope"] == "act" else ("viewer", link["view_of"])
        session = self.session(code, role)
        expires = (datetime.now(UTC) + timedelta(hours=12)).isoformat()
        answer = {**link, "session": session, "expires_at": expires}
        return httpx.Response(200, json=answer)

    def _authorised(
        self, method: str, path: str, who: tuple[str, str], body: bytes, request: httpx.Request
    ) -> httpx.Response:
        code, role = who
        if path == "/tokens/me":
            return httpx.Response(200, json={"subject": code, "role": role})
        if match := re.fullmatch(r"/agencies/([^/]+)/assignments", path):
            if match.group(1) != code:
                return httpx.Response(403, json={"detail": "an agency reads only its own assignments"})
            offset = int(request.url.params.get("offset", 0))
            limit = int(request.url.params.get("limit", 50))
            mine = [a for a in self.assignments.values() if a["agency"]["code"] == code]
            return httpx.Response(200, json={"items": [answered(a) for a in mine[offset : offset + limit]]})
        if match := re.fullmatch(r"/files/([^/]+)", path):
            stored = self.files.get(match.group(1))
            if stored is None or stored["agency"] != code:
                return httpx.Response(404, json={"detail": "no such file"})
            return httpx.Response(200, content=stored["bytes"], headers={"Content-Type": stored["media_type"]})
        match = re.fullmatch(r"/assignments/([^/]+)(?:/([a-z]+))?", path)
        assignment = self.assignments.get(match.group(1)) if match else None
        if assignment is None or match is None:
            return httpx.Response(404, json={"detail": "no such assignment"})
        if assignment["agency"]["code"] != code:
            return httpx.Response(403, json={"detail": "another agency's assignment"})
        if method == "GET":
            if match.group(2) == "history":
                return httpx.Response(
                    200, json={"events": [{"event_type": "assignment.created", "occurred_at": NOW.isoformat()}]}
                )
            return httpx.Response(200, json=answered(assignment))
        if role != "agency":
            return httpx.Response(403, json={"detail": "a viewer changes nothing"})
        return self._act(assignment, match.group(2) or "", body, request)

    def _act(self, assignment: dict[str, Any], action: str, body: bytes, request: httpx.Request) -> httpx.Response:
        if action == "files":
            return self._store(assignment, body, request.headers["content-type"])
        if action == "acknowledge":
            if assignment["state"] != "assigned":
                return httpx.Response(409, json={"detail": "already acknowledged"})
            assignment["state"] = "acknowledged"
        elif action == "reports":
            sent = json.loads(body)
            period = assignment["periods"][sent["period"]]
            deliverables = [self.files[i]["deliverable"] for i in sent["file_ids"]]
            period["reports"].append(
                {
                    "submitted_at": NOW.isoformat(),
                    "late_by_seconds": 0,
                    "note": sent["note"],
                    "deliverables": deliverables,
                }
            )
            assignment["state"] = "completed"
        elif action == "progress":
            assignment["progress"] = json.loads(body)["percent"]
        return httpx.Response(200, json={"duplicate": False, "event": {}})

    def _store(self, assignment: dict[str, Any], body: bytes, content_type: str) -> httpx.Response:
        boundary = content_type.split("boundary=")[1].encode()
        head, _, rest = body.partition(b"\r\n\r\n")
        content = rest[: rest.rindex(b"\r\n--" + boundary + b"--")]
        name = re.search(rb'filename="([^"]*)"', head).group(1).decode()  # type: ignore[union-attr]
        kinds = {
            ".pdf": (b"%PDF-", "application/pdf"),
            ".docx": (b"PK", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        }
        kind = kinds.get(name[name.rfind(".") :].lower())
        if kind is None:
            return httpx.Response(415, json={"detail": "not allowed", "reason": "type_not_allowed"})
        if not content.startswith(kind[0]):
            return httpx.Response(415, json={"detail": "content differs", "reason": "type_mismatch"})
        file_id = secrets.token_hex(8)
        sha = hashlib.sha256(content).hexdigest()
        deliverable = {
            "file_name": name,
            "media_type": kind[1],
            "size": len(content),
            "sha256": sha,
            "link": f"/files/{file_id}",
        }
        self.files[file_id] = {
            "agency": assignment["agency"]["code"],
            "bytes": content,
            "media_type": kind[1],
            "deliverable": deliverable,
        }
        return httpx.Response(201, json={"file_id": file_id, **deliverable})
