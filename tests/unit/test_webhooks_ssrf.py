"""S20: callback URLs that reach a private IPv4 address through an IPv6 transition address are refused."""
from __future__ import annotations

import ipaddress

import pytest

from shared.webhooks import CallbackRefused, check_callback_url, embedded_ipv4

# Each form wrapping 127.0.0.1 or a private network, with the IPv4 address it carries.
PRIVATE_INSIDE = {
    "6to4 loopback": ("2002:7f00:1::", "127.0.0.1"),
    "6to4 private": ("2002:a00:1::1", "10.0.0.1"),
    "NAT64 well-known": ("64:ff9b::7f00:1", "127.0.0.1"),
    "NAT64 well-known, metadata": ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    "NAT64 local-use /96": ("64:ff9b:1::c0a8:101", "192.168.1.1"),
    "NAT64 local-use /48": ("64:ff9b:1:a00:1:200::", "10.0.1.2"),
    "Teredo obfuscated client": ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),
    "Teredo private server": ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "10.0.0.1"),
    "IPv4-mapped": ("::ffff:127.0.0.1", "127.0.0.1"),
    "IPv4-mapped private": ("::ffff:172.16.0.5", "172.16.0.5"),
    "IPv4-compatible": ("::127.0.0.1", "127.0.0.1"),
    "IPv4-compatible private": ("::10.1.2.3", "10.1.2.3"),
}


@pytest.mark.parametrize("address,inner", PRIVATE_INSIDE.values(), ids=PRIVATE_INSIDE.keys())
def test_the_ipv4_address_inside_a_transition_address_is_found(address, inner):
    assert ipaddress.IPv4Address(inner) in embedded_ipv4(ipaddress.ip_address(address))


@pytest.mark.parametrize("address,inner", PRIVATE_INSIDE.values(), ids=PRIVATE_INSIDE.keys())
def test_a_callback_to_a_private_address_wrapped_in_ipv6_is_refused(address, inner):
    with pytest.raises(CallbackRefused) as refused:
        check_callback_url(f"http://[{address}]:8080/hook", [])
    assert inner in str(refused.value)


@pytest.mark.parametrize("address", ["2002:808:808::1", "64:ff9b::808:808", "64:ff9b::1.1.1.1"])
def test_a_transition_address_wrapping_a_public_ipv4_address_is_allowed(address):
    assert embedded_ipv4(ipaddress.ip_address(address))[0].is_global
    assert check_callback_url(f"https://[{address}]/hook", []) == f"https://[{address}]/hook"


@pytest.mark.parametrize("address", ["2606:4700:4700::1111", "2a00:1450:4001::1"])
def test_plain_public_ipv6_addresses_embed_nothing_and_are_allowed(address):
    assert embedded_ipv4(ipaddress.ip_address(address)) == []
    assert check_callback_url(f"http://[{address}]/", []) == f"http://[{address}]/"


@pytest.mark.parametrize("address", ["::1", "::", "fe80::1", "fc00::1"])
def test_non_public_ipv6_addresses_stay_refused(address):
    with pytest.raises(CallbackRefused):
        check_callback_url(f"http://[{address}]/", [])


def test_an_administrator_can_still_allow_a_wrapped_address_by_network():
    url = "http://[64:ff9b::7f00:1]/hook"
    assert check_callback_url(url, ["64:ff9b::/96"]) == url
