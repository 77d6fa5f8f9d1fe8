from __future__ import annotations

import pytest

from panne.signals.countries import COUNTRY_CODES, NUMERIC_TO_ALPHA2, country_name
from panne.signals.geo import GeoLocator, network_of

geo = GeoLocator()


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),
        ("41.226.11.1", "TN"),
        ("81.2.69.160", "GB"),
        ("200.160.2.3", "BR"),
        ("2001:41d0::1", "FR"),
        ("2a03:2880:f003:c07:face:b00c::2", "US"),
    ],
)
def test_public_addresses_have_countries(ip: str, country: str) -> None:
    assert geo.country(ip) == country


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "::1", "", "garbage",
                                "999.1.1.1"])  # fmt: skip
def test_private_and_invalid_addresses_have_none(ip: str) -> None:
    assert geo.country(ip) is None


def test_networks_for_rate_limits() -> None:
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert network_of("300.1.1.1") is None
    assert network_of("nope") is None


def test_countries() -> None:
    assert {"FR", "TN", "US"} <= COUNTRY_CODES and "XQ" not in COUNTRY_CODES
    assert NUMERIC_TO_ALPHA2["250"] == "FR"
    assert country_name("FR", "fr") == "France"
    assert country_name("DE", "fr") == "Allemagne"
    assert country_name("TN") == "Tunisia"
    assert country_name("ZZ", "fr") == "Inconnu"
