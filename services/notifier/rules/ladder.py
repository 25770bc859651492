"""The ladder as the notifier uses it: the schema lives in shared/contracts/ladder.py (intake validates plans' ladders
with it); here, which steps a period opens with and how they are kept on it. A period copies its track's
steps when it opens (a snapshot, so a later change of the file does not alter periods already open) —
from the plan's own ladder when the assignment carries one for that track, else from the deployment's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared.contracts.ladder import Ladder, LadderSpec, Step, Track

LadderSource = Literal["deployment", "plan"]


@dataclass(frozen=True)
class TrackLadder:
    """The steps one period follows, and where they came from (recorded on the period)."""

    steps: list[Step]
    version: str
    source: LadderSource

    def fields(self) -> dict[str, Any]:
        """What a period stores about its ladder."""
        return {"steps": snapshot(self.steps), "ladder_version": self.version, "ladder_source": self.source}


def deployment_track(deployment: Ladder, track: Track) -> TrackLadder:
    return TrackLadder(deployment.track(track), deployment.version, "deployment")


def for_track(deployment: Ladder, override: LadderSpec | dict[str, Any] | None, track: Track) -> TrackLadder:
    """The plan's steps for `track` when its ladder gives that track (even as an empty list), else the
    deployment's."""
    if isinstance(override, dict):
        override = LadderSpec.model_validate(override)
    if override is None or not override.given(track):
        return deployment_track(deployment, track)
    own = Ladder.from_spec(override)
    return TrackLadder(own.track(track), own.version, "plan")


def snapshot(steps: list[Step]) -> list[dict[str, Any]]:
    """What is stored on a period: the steps as plain data."""
    return [step.model_dump(mode="json") for step in steps]


def from_snapshot(rows: list[dict[str, Any]]) -> list[Step]:
    return [Step.model_validate(row) for row in rows]
