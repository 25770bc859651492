"""What FastStream's AsyncAPI document gets wrong or leaves out about dondoc's broker, set right in one place
(`dondoc contracts generate` applies it; docs/integration.md is the prose): messages are persistent
(`deliveryMode` 2), the vhost is the deployment's (`dondoc`), the correlation id is the envelope's
`correlation_id` in the body (for commands, their `command_id`), the AMQP `type` property carries the event type,
`event_type` is part of every event's body, the commands agencies and issuers send are received, not sent, by
dondoc, and the broker's security: one user per service and per agency, `user_id` validated by RabbitMQ."""

from __future__ import annotations

import re
from typing import Any

from shared.contracts.commands import COMMAND_TYPES
from shared.contracts.events import DEFAULT_AGENCY_KINDS, EVENT_TYPES
from shared.contracts.topology import AGENCY_USER_PREFIX

VHOST = "dondoc"
PERSISTENT = 2
SECURITY_SCHEME = "brokerUser"
SECURITY = {
    "type": "userPassword",
    "description": (
        "Every service and every agency has a broker user of its own (agencies: "
        f"`{AGENCY_USER_PREFIX}<code>`, `dondoc agencies provision`). A command must carry the AMQP property "
        "`user_id` set to the sending user, which RabbitMQ checks against the connection's user; the topic "
        "permissions let an agency publish only `command.<verb>.<its kind>.<its code>` (and, an issuer, "
        "`plan.submit.<its kind>.<its code>`) and read only its own queue `agency.<code>`, declared passively."
    ),
}


def _type_of(message_title: str) -> str:
    return message_title.split(":")[0]


def _servers(document: dict[str, Any]) -> None:
    document["servers"] = {
        "production": {
            "host": "rabbitmq.example:5672",
            "pathname": f"/{VHOST}",
            "protocol": "amqp",
            "protocolVersion": "0.9.1",
            "description": "the deployment's broker (amqps:// on 5671 with TLS); the vhost is `dondoc`",
            "security": [{"$ref": f"#/components/securitySchemes/{SECURITY_SCHEME}"}],
        }
    }
    document.setdefault("components", {})["securitySchemes"] = {SECURITY_SCHEME: SECURITY}
    for channel in document.get("channels", {}).values():
        channel["servers"] = [{"$ref": "#/servers/production"}]
        exchange = channel.get("bindings", {}).get("amqp", {}).get("exchange")
        if exchange is not None:
            exchange["vhost"] = VHOST


# Kinds are open: the seven defaults and whatever kinds a directory declares (a commune's `thon` …).
_KIND = "the agency's kind: one of the seven defaults or a kind the directory declares (lowercase, a-z 0-9 _)"
PARAMETERS = {
    "agency_kind": {"description": _KIND, "examples": list(DEFAULT_AGENCY_KINDS)},
    "agency_code": {"description": "the agency's code in the directory", "examples": ["chi-bo-khu-1"]},
    "issuer_kind": {"description": f"the issuing body's kind; {_KIND}", "examples": list(DEFAULT_AGENCY_KINDS)},
    "issuer_code": {"description": "the issuing body's code in the directory", "examples": ["dang-uy"]},
}


def _parameters(document: dict[str, Any]) -> None:
    """Every `{name}` of a channel's address declared (AsyncAPI 3 requires it)."""
    for channel in document.get("channels", {}).values():
        names = re.findall(r"\{([a-z_]+)\}", channel.get("address") or "")
        if names:
            channel["parameters"] = {name: PARAMETERS[name] for name in names}


def _operations(document: dict[str, Any]) -> None:
    for operation in document.get("operations", {}).values():
        address = operation.get("channel", {}).get("$ref", "").removeprefix("#/channels/")
        if address in COMMAND_TYPES:
            operation["action"] = "receive"  # agencies and issuers send it; dondoc receives it
        amqp = operation.get("bindings", {}).get("amqp", {})
        if "deliveryMode" in amqp:
            amqp["deliveryMode"] = PERSISTENT


def _messages(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for name, message in document.get("components", {}).get("messages", {}).items():
        kind = _type_of(name)
        if kind in EVENT_TYPES:
            message["correlationId"] = {
                "location": "$message.payload#/correlation_id",
                "description": "the plan the event belongs to (also the AMQP correlation_id property)",
            }
            message["bindings"] = {"amqp": {"messageType": kind, "bindingVersion": "0.3.0"}}
            schema = schemas.get(EVENT_TYPES[kind].__name__)
            if schema is not None:
                schema.setdefault("properties", {})["event_type"] = {
                    "const": kind,
                    "type": "string",
                    "description": "which contract this is (also the AMQP type property)",
                }
                schema["required"] = sorted({*schema.get("required", []), "event_type"})
        elif kind in COMMAND_TYPES:
            message["correlationId"] = {
                "location": "$message.payload#/command_id",
                "description": "chosen by the sender; echoed in the answer (the resulting event, or a rejection)",
            }


def refine(document: dict[str, Any]) -> dict[str, Any]:
    _servers(document)
    _parameters(document)
    _operations(document)
    _messages(document)
    return document
