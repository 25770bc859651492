"""The committed AsyncAPI and OpenAPI documents are what the code says; change one without the
other and this fails (regenerate with `dondoc contracts generate`)."""

from __future__ import annotations

import json

from services.cli import contracts


def test_committed_contract_documents_match_the_code() -> None:
    stale = contracts.stale_documents()
    assert stale == [], f"out of date: {stale}; run `.venv/bin/dondoc contracts generate` and commit docs/contracts/"


def test_the_asyncapi_document_names_every_event_and_its_payload_fields() -> None:
    document = json.loads(contracts.render()["asyncapi.json"])
    channels = document["channels"]
    for name in ("assignment.created", "plan.registered", "report.submitted", "deadline.extended"):
        assert name in channels, sorted(channels)
    schemas = document["components"]["schemas"]
    created = next(s for key, s in schemas.items() if key.startswith("AssignmentCreated"))
    assert {"event_id", "correlation_id", "agency", "deadlines"} <= set(created["properties"])


def test_the_drift_check_notices_a_changed_message_model(monkeypatch) -> None:
    from shared.contracts.events import AssignmentCreated

    original = contracts.render()
    field = AssignmentCreated.model_fields["task"]
    monkeypatch.setattr(field, "description", "a description that is not in the committed document")
    AssignmentCreated.model_rebuild(force=True)
    try:
        assert contracts.render()["asyncapi.json"] != original["asyncapi.json"]
    finally:
        monkeypatch.undo()
        AssignmentCreated.model_rebuild(force=True)
