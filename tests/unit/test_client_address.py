"""Who the client is (shared/platform/client_address.py), the one rule tracking's and the portal's per-client limits
count by: behind a trusted proxy, the last X-Forwarded-For entry (the one that proxy appended); otherwise the peer,
whatever the request says about itself."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from services.tracking.config import Settings as TrackingSettings
from services.web.config import Settings as WebSettings
from shared.platform.client_address import client_address, forwarded_client, networks

PROXIES = networks(["10.0.0.0/8", "192.0.2.10", "fd00::/8"])


def request(peer: str | None, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": headers,
        "client": (peer, 50000) if peer else None,
    }
    return Request(scope)


def test_behind_a_trusted_proxy_the_client_is_the_last_forwarded_address() -> None:
    assert client_address(request("10.1.2.3", "203.0.113.7"), PROXIES) == "203.0.113.7"
    assert client_address(request("192.0.2.10", "203.0.113.7"), PROXIES) == "203.0.113.7"  # a single address


def test_only_the_last_of_several_entries_counts_the_earlier_ones_are_the_senders_word() -> None:
    chain = "1.1.1.1, 198.51.100.4 ,203.0.113.7"
    assert client_address(request("10.1.2.3", chain), PROXIES) == "203.0.113.7"
    assert client_address(request("10.1.2.3", "203.0.113.7, 198.51.100.9"), PROXIES) == "198.51.100.9"


def test_a_proxy_that_adds_its_own_header_line_is_read_after_the_senders_line() -> None:
    forged, appended = "198.51.100.66", "203.0.113.7"
    assert client_address(request("10.1.2.3", forged, appended), PROXIES) == appended


def test_an_untrusted_peer_is_its_own_address_whatever_it_forwards() -> None:
    assert client_address(request("198.51.100.9", "203.0.113.7"), PROXIES) == "198.51.100.9"
    assert client_address(request("192.0.2.11", "10.0.0.1"), PROXIES) == "192.0.2.11"  # next to a trusted address
    assert client_address(request("127.0.0.1", "203.0.113.7"), PROXIES) == "127.0.0.1"  # loopback only by setting
    assert client_address(request("10.1.2.3", "203.0.113.7"), networks([])) == "10.1.2.3"  # nobody trusted


def test_ipv6_peers_and_forwarded_addresses() -> None:
    assert client_address(request("fd00::5", "2001:db8::1"), PROXIES) == "2001:db8::1"
    assert client_address(request("fd00::5", "[2001:DB8::1]:443"), PROXIES) == "2001:db8::1"  # one spelling, one bucket
    assert client_address(request("2001:db8::9", "203.0.113.7"), PROXIES) == "2001:db8::9"
    assert client_address(request("::ffff:10.1.2.3", "203.0.113.7"), PROXIES) == "203.0.113.7"  # dual-stack socket
    assert client_address(request("::1", "203.0.113.7"), networks(["::1/128"])) == "203.0.113.7"


def test_a_port_after_an_ipv4_address_is_dropped() -> None:
    assert client_address(request("10.1.2.3", "203.0.113.7:51234"), PROXIES) == "203.0.113.7"


@pytest.mark.parametrize(
    "forwarded", ["", "   ", "unknown", "203.0.113.7, ", "not an address", "999.1.1.1", "[2001:db8::1", "x" * 10_000]
)
def test_garbage_from_a_trusted_proxy_leaves_the_proxys_own_address(forwarded: str) -> None:
    assert client_address(request("10.1.2.3", forwarded), PROXIES) == "10.1.2.3"


def test_a_peer_that_is_not_an_address_is_counted_as_itself() -> None:
    assert client_address(request("testclient", "203.0.113.7"), PROXIES) == "testclient"
    assert client_address(request(None, "203.0.113.7"), PROXIES) == "unknown"
    assert forwarded_client("10.1.2.3", "x" * 100_000 + ", 203.0.113.7", PROXIES) == "203.0.113.7"


@pytest.mark.parametrize("settings", [TrackingSettings, WebSettings])
def test_both_services_read_the_setting_the_same_way(settings: type[TrackingSettings] | type[WebSettings]) -> None:
    assert settings().trusted_proxies == ["127.0.0.1/32", "::1/128"]
    value = ["10.0.0.0/8", "172.16.0.5", "fd00::/8"]
    assert settings(trusted_proxies=value).trusted_proxies == value
    with pytest.raises(ValidationError, match="not-a-network"):
        settings(trusted_proxies=["10.0.0.0/8", "not-a-network"])


def test_the_settings_come_from_a_json_list_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKING_TRUSTED_PROXIES", '["172.30.84.10"]')
    monkeypatch.setenv("WEB_TRUSTED_PROXIES", '["10.0.0.0/8", "fd00::/8"]')
    assert TrackingSettings().trusted_proxies == ["172.30.84.10"]
    assert networks(WebSettings().trusted_proxies) == networks(["10.0.0.0/8", "fd00::/8"])
