"""Broker identities: one RabbitMQ user per agency that may configure nothing, publish only commands
carrying its own agency code to the events exchange, and read only its own queue; one user per service that
may touch only the exchanges and its own queues; and an administrator for operators.

The permissions are computed here once and applied either live (rabbitmqctl) or written into a
definitions file that RabbitMQ imports at boot (docker compose).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.contracts import topology
from shared.contracts.commands import AGENCY_COMMAND_TYPES


@dataclass(frozen=True)
class AgencyGrant:
    user: str
    configure: str
    write: str
    read: str
    topic_write: str
    topic_read: str


def agency_grant(code: str, user_prefix: str = topology.AGENCY_USER_PREFIX, kind: str | None = None) -> AgencyGrant:
    """What an agency's user may do: publish its commands (and, an issuer, its plans: `plan.submit`) under its
    own code, and its kind when known (the directory's), and read its own queue."""
    quoted = re.escape(code)
    kind_pattern = re.escape(kind) if kind else "[a-z_]+"
    verbs = "|".join(sorted(command.verb for command in AGENCY_COMMAND_TYPES.values()))
    return AgencyGrant(
        user=f"{user_prefix}{code}",
        configure="^$",
        write=f"^{re.escape(topology.EVENTS_EXCHANGE)}$",
        read=f"^{re.escape(topology.agency_queue(code).name)}$",
        # Topic permissions: the routing key of every publish must carry the agency's own code.
        # Its commands by name: `command.rejected`, an answer only tracking gives, is not one of them.
        topic_write=rf"^(command\.({verbs})|plan\.submit)\.{kind_pattern}\.{quoted}$",
        topic_read="^$",
    )


SERVICES = ("intake", "tracking", "notifier")


def service_user(service: str, user_prefix: str = "") -> str:
    return f"{user_prefix}dondoc-{service}"


def service_grant(service: str, user_prefix: str = "") -> AgencyGrant:
    """What a service may do: declare and use the two exchanges and its own queue and dead-letter queue
    (binding a queue needs write on it and read on the exchange), publish events under any routing key; intake
    also the agencies' queues."""
    names = [topology.EVENTS_EXCHANGE, topology.DEAD_LETTER_EXCHANGE]
    queue = topology.SERVICE_QUEUES.get(service)
    if queue is not None:
        names += [queue.name, queue.dead_letter_queue]
    patterns = [re.escape(name) for name in names]
    if service == "intake":
        # Intake declares the queue of an agency added at runtime (directory.updated; services/intake/consumers.py).
        patterns += [r"agency\.[A-Za-z0-9_-]+", re.escape(topology.AGENCIES_DEAD_LETTER_QUEUE)]
    own = "^(" + "|".join(patterns) + ")$"
    return AgencyGrant(
        user=service_user(service, user_prefix), configure=own, write=own, read=own, topic_write=".*", topic_read=".*"
    )


def rabbit_password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def admin_user(user_prefix: str = "") -> str:
    return f"{user_prefix}dondoc-admin"


def _queue(vhost: str, declaration: topology.QueueDeclaration) -> dict[str, Any]:
    return {
        "name": declaration.name,
        "vhost": vhost,
        "durable": True,
        "auto_delete": False,
        "arguments": dict(declaration.arguments),
    }


def _bindings(vhost: str, declaration: topology.QueueDeclaration) -> list[dict[str, Any]]:
    return [
        {
            "source": binding.exchange,
            "vhost": vhost,
            "destination": declaration.name,
            "destination_type": "queue",
            "routing_key": binding.routing_key,
            "arguments": {},
        }
        for binding in declaration.bindings
    ]


def _exchange(vhost: str, name: str, kind: str) -> dict[str, Any]:
    return {
        "name": name,
        "vhost": vhost,
        "type": kind,
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": {},
    }


def _identities(vhost: str, grants: list[AgencyGrant], admin: str, passwords: dict[str, str]) -> dict[str, Any]:
    """Users, their permissions, and the topic permissions that bind agencies to their own routing keys."""
    return {
        "users": [
            {
                "name": g.user,
                "password_hash": rabbit_password_hash(passwords[g.user]),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": ["administrator"] if g.user == admin else [],
            }
            for g in grants
        ],
        "permissions": [
            {"user": g.user, "vhost": vhost, "configure": g.configure, "write": g.write, "read": g.read} for g in grants
        ],
        "topic_permissions": [
            {
                "user": g.user,
                "vhost": vhost,
                "exchange": topology.EVENTS_EXCHANGE,
                "write": g.topic_write,
                "read": g.topic_read,
            }
            for g in grants
            if g.user != admin
        ],
    }


def definitions(
    vhost: str,
    agency_codes: list[str],
    passwords: dict[str, str],
    user_prefix: str = "",
    agency_prefix: str = topology.AGENCY_USER_PREFIX,
    kinds: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A definitions document: vhost, exchanges, service and agency queues, bindings, and the users: one
    per agency, one per service, and an administrator (a node that imports definitions at boot creates no
    default user). `passwords` holds one for each of them, by user name. The queues are the topology's
    declarations, the same the services and `dondoc agencies provision` declare. With `kinds` (code → the
    directory's kind), an agency's topic permission binds its kind too."""
    admin = admin_user(user_prefix)
    grants = [AgencyGrant(admin, ".*", ".*", ".*", ".*", ".*")]
    grants += [service_grant(s, user_prefix) for s in SERVICES] + [
        agency_grant(c, agency_prefix, (kinds or {}).get(c)) for c in agency_codes
    ]
    declarations = topology.all_declarations(agency_codes)
    return {
        "rabbitmq_version": "3.13",
        "vhosts": [{"name": vhost}],
        **_identities(vhost, grants, admin, passwords),
        "exchanges": [
            _exchange(vhost, topology.EVENTS_EXCHANGE, "topic"),
            _exchange(vhost, topology.DEAD_LETTER_EXCHANGE, "direct"),
        ],
        "queues": [_queue(vhost, d) for d in declarations],
        "bindings": [binding for d in declarations for binding in _bindings(vhost, d)],
    }


class BrokerAdminError(RuntimeError):
    """rabbitmqctl is missing, failed, or did not answer in time."""


def rabbitmqctl(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run rabbitmqctl with a real time limit: Debian's wrapper runs it through `su`, whose children keep
    the output pipes open, so a plain timeout would leave the caller waiting; the whole process group
    is killed instead."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise BrokerAdminError("rabbitmqctl is not installed")
    process = subprocess.Popen(
        [ctl, "-q", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise BrokerAdminError(f"rabbitmqctl {' '.join(args[:1])} did not answer within {timeout:.0f}s") from None
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    if check and process.returncode != 0:
        raise BrokerAdminError(f"rabbitmqctl {' '.join(args[:1])} failed: {err.strip() or out.strip()}")
    return result
