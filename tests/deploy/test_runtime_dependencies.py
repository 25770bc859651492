"""The runtime image holds what the services run on and nothing else: the MongoDB-wire stand-in (SecantusDB, a
beta) and the SMTP test server (aiosmtpd) are in the `local` dependency group, which `make run` and `make test`
install (uv's default groups) and deploy/Dockerfile does not."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parents[2]
LOCAL_ONLY = {"secantusdb", "aiosmtpd"}


def lock() -> dict[str, dict[str, Any]]:
    packages = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))["package"]
    return {package["name"]: package for package in packages}


def runtime_closure(packages: dict[str, dict[str, Any]]) -> set[str]:
    """Every package the project's own dependencies pull in, extras included (the lock's `dependencies` and
    `optional-dependencies` of each), no dependency group."""
    seen: set[str] = set()
    pending = [d["name"] for d in packages["dondoc"].get("dependencies", [])]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        package = packages[name]
        pending += [d["name"] for d in package.get("dependencies", [])]
        for extra in package.get("optional-dependencies", {}).values():
            pending += [d["name"] for d in extra]
    return seen


def test_the_locked_runtime_set_has_neither_the_stand_in_nor_the_smtp_server() -> None:
    packages = lock()
    runtime = runtime_closure(packages)
    assert {"fastapi", "pymongo", "aio-pika", "aiosmtplib"} <= runtime  # the closure is really walked
    assert not runtime & LOCAL_ONLY, runtime & LOCAL_ONLY
    local = {d["name"] for d in packages["dondoc"]["dev-dependencies"]["local"]}
    assert local == LOCAL_ONLY


def test_uv_installs_the_local_group_for_make_and_the_image_installs_no_group() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(project["tool"]["uv"]["default-groups"]) == {"dev", "local"}
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    syncs = re.findall(r"uv sync[^\n]*", dockerfile)
    assert syncs and all("--no-default-groups" in s and "--group" not in s for s in syncs), syncs
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    make_syncs = re.findall(r"uv\)? sync[^\n]*", makefile, re.IGNORECASE)
    assert make_syncs and all("--no-default-groups" not in line and "--no-dev" not in line for line in make_syncs)
