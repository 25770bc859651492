"""End-to-end fixtures shared by the tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.harness import fresh_vhost


@pytest.fixture
def own_vhost() -> Iterator[str]:
    """A vhost of each test's own. Services started by one test leave messages in the `tracking` and `notifier`
    queues when they stop (the last events of a plan, what a killed replica did not acknowledge); in a shared vhost
    the next test's services would consume them — another plan's overdue notice, another trace — and count wrong."""
    with fresh_vhost() as url:
        yield url
