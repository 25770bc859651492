"""The web portal's speed (issue 18): the agency page's time for an agency with 200 open assignments, p95 over 200
requests (target < 150 ms), and five 20 MB report uploads at once through the portal into tracking's GridFS: MB/s,
and the peak RSS of web and tracking (target ≤ 250 MB each).

    .venv/bin/python benchmarks/web_portal.py                 # 200 assignments, 200 requests, 5 × 20 MB
    .venv/bin/python benchmarks/web_portal.py --assignments 50 --requests 50 --upload-mb 5   # quicker

Runs intake, tracking and web as separate processes on a vhost of their own (rabbitmqctl) and MONGO_URL or a
SecantusDB of its own. The page time is measured by the client over the loopback: the server's time plus well
under a millisecond. Prints lines `make bench` (benchmarks/run.py, row 7) reads.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import stack  # noqa: E402
from deploy.local.infra import Processes, start_mongo_stand_in, wait_until  # noqa: E402

AGENCY = stack.cell_code(1)


def submit_plans(services: stack.Services, count: int) -> None:
    """`count` plans that each give the agency one task (intake makes one assignment per body and plan)."""
    run = uuid.uuid4().hex[:6]

    def submit(index: int) -> None:
        plan = {
            "issuer": "Đảng ủy xã",
            "number": f"{run}{index}-KH/ĐU",
            "title": f"Kế hoạch số {index} (đo tải trang của cơ quan)",
            "assignments": [{"agency": "Chi bộ số 1", "task": f"Nhiệm vụ số {index}: tổ chức và báo cáo."}],
            "deadlines": [{"period": "2027-H1", "due": "2027-06-30", "wording": "trước ngày 01 tháng 7"}],
        }
        answer = httpx.post(f"{services.url('intake')}/plans", json=plan, headers=stack.OPERATOR, timeout=120)
        answer.raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(submit, range(count)))
    listing = f"{services.url('tracking')}/agencies/{AGENCY}/assignments"

    def recorded() -> bool:
        body = httpx.get(listing, params={"limit": 500}, headers=stack.OPERATOR, timeout=30).json()
        return len(body.get("items", [])) >= count

    wait_until(recorded, 300, f"tracking to record {count} assignments", interval=1.0)


def signed_in(services: stack.Services) -> httpx.Client:
    """A client holding the agency's session cookie, from a personal link exchanged at the portal."""
    issued = httpx.post(
        f"{services.url('tracking')}/links", json={"agency": AGENCY, "scope": "act"}, headers=stack.OPERATOR
    )
    issued.raise_for_status()
    client = httpx.Client(base_url=services.url("web"), timeout=120, follow_redirects=False)
    answer = client.get(f"/l/{issued.json()['secret']}")
    assert answer.status_code == 303, answer.text
    return client


def page_times(client: httpx.Client, requests: int) -> list[float]:
    client.get("/")  # warm: templates compiled, the identity cached
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get("/")
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200 and "Nhiệm vụ số" in answer.text
    return times


async def uploads(web: str, cookies: httpx.Cookies, ids: list[str], size: int) -> float:
    """Five report forms with one `size`-byte PDF each, sent at once; seconds until all are recorded."""
    async with httpx.AsyncClient(base_url=web, cookies=cookies, timeout=600, follow_redirects=False) as client:

        async def one(assignment_id: str) -> None:
            page = (await client.get(f"/nhiem-vu/{assignment_id}")).text
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
            key = re.search(r'name="key" value="([0-9a-f]+-bc)"', page)
            assert token and key, "the page has no report form"
            content = b"%PDF-1.7\n" + secrets.token_bytes(size - 9)
            data = {"csrf": token.group(1), "key": key.group(1), "period": "2027-H1"}
            files = {"files": ("bao-cao.pdf", content, "application/pdf")}
            answer = await client.post(f"/nhiem-vu/{assignment_id}/bao-cao", data=data, files=files)
            assert answer.status_code == 303, answer.text[:500]

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in ids))
        return time.perf_counter() - started


def measure(services: stack.Services, assignments: int, requests: int, upload_bytes: int) -> None:
    submit_plans(services, assignments)
    client = signed_in(services)
    times = page_times(client, requests)
    p95 = statistics.quantiles(times, n=20)[18]
    sys.stdout.write(
        f"agency page, {assignments} open assignments: p95 {p95:.1f} ms, median {statistics.median(times):.1f} ms "
        f"over {requests} requests\n"
    )
    listing = f"{services.url('tracking')}/agencies/{AGENCY}/assignments"
    direct = []
    session = {"Authorization": f"Bearer {client.cookies['dondoc_session']}"}  # the portal's own call, alone
    with httpx.Client(headers=session, timeout=30) as tracking:  # kept alive, as the portal's client is
        for _ in range(requests):
            started = time.perf_counter()
            tracking.get(listing, params={"limit": 500}).raise_for_status()
            direct.append((time.perf_counter() - started) * 1000)
    sys.stdout.write(
        f"of which tracking's listing alone: p95 {statistics.quantiles(direct, n=20)[18]:.1f} ms, "
        f"median {statistics.median(direct):.1f} ms\n"
    )
    items = httpx.get(listing, params={"limit": 5}, headers=stack.OPERATOR, timeout=30).json()["items"]
    ids = [item["assignment_id"] for item in items]
    seconds = asyncio.run(uploads(services.url("web"), client.cookies, ids, upload_bytes))
    total_mb = len(ids) * upload_bytes / 1e6
    sys.stdout.write(
        f"uploads: {len(ids)} × {upload_bytes / 1e6:.0f} MB at once in {seconds:.1f} s: {total_mb / seconds:.1f} MB/s; "
        f"peak RSS web {services.peak_rss_mb('web'):.0f} MB, tracking {services.peak_rss_mb('tracking'):.0f} MB\n"
    )


def main(args: argparse.Namespace) -> None:
    processes = Processes()
    folder = Path(tempfile.mkdtemp(prefix="dondoc-bench-web-"))
    vhost = stack.Vhost().create()
    mongo_url = os.environ.get("MONGO_URL") or start_mongo_stand_in(processes, folder / "data", folder / "mongo.log")
    directory = stack.write_directory(folder / "directory.yaml", 10)
    services = stack.Services(folder, vhost.url, mongo_url, uuid.uuid4().hex[:8], directory, {})
    try:
        services.start("tracking")
        services.extra_env["WEB_TRACKING_URL"] = services.url("tracking")
        services.extra_env["AUTH_URL"] = services.url("tracking")
        services.extra_env["TRACKING_LINK_RATE_PER_MINUTE"] = "1000"
        services.start("intake")
        services.start("web")
        measure(services, args.assignments, args.requests, args.upload_mb * 1_000_000)
    finally:
        services.stop()
        processes.stop()
        vhost.delete()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignments", type=int, default=200, help="open assignments of the one agency")
    parser.add_argument("--requests", type=int, default=200, help="agency page requests timed")
    parser.add_argument("--upload-mb", type=int, default=20, help="size of each of the five uploads (MB)")
    main(parser.parse_args())
