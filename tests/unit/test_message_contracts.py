"""Message contracts: the documented examples are valid messages, and any byte string on the bus is
either a valid message or an InvalidMessage with a reason — never a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contracts.commands import COMMAND_TYPES
from shared.contracts.events import EVENT_TYPES
from shared.platform.deliveries import MESSAGE_TYPES, InvalidMessage, parse_event


@pytest.mark.parametrize("model", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
def test_documented_examples_are_valid_messages(model) -> None:  # type: ignore[no-untyped-def]
    for example in model.model_json_schema().get("examples", []):
        parsed = model.model_validate(example)
        assert parsed.event_type == f"{model.entity}.{model.verb}"
        assert parse_event(parsed.routing_key(), json.dumps(example).encode()) == parsed


ROUTING_KEYS = st.sampled_from([*MESSAGE_TYPES, "unknown.thing", "", "command", "plan"]).flatmap(
    lambda prefix: st.just(prefix) | st.builds(lambda rest: f"{prefix}.{rest}", st.text(max_size=30))
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(ROUTING_KEYS, st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_are_a_message_or_an_invalid_message_with_a_reason(routing_key: str, body: bytes) -> None:
    try:
        parsed = parse_event(routing_key, body, user_id="someone")
    except InvalidMessage as exc:
        assert str(exc)
        return
    assert type(parsed) in (*EVENT_TYPES.values(), *COMMAND_TYPES.values())
