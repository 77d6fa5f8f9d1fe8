from __future__ import annotations

import re
from pathlib import Path

import pytest

from panne.config import ConfigError, Settings, documented_settings, load

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_defaults_need_no_file_and_no_environment() -> None:
    s = load(environ={})
    assert s == Settings()
    assert s.database_url == "sqlite:///panne.db"
    assert s.public_url() == "http://127.0.0.1:8080"


def test_environment_overrides_with_typed_values() -> None:
    s = load(
        environ={
            "PANNE_PORT": "9000",
            "PANNE_RATE_LIMIT": "off",
            "PANNE_DETECT_WARMUP_DAYS": "2.5",
            "PANNE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
        }
    )
    assert (s.port, s.rate_limit, s.detect_warmup_days) == (9000, False, 2.5)
    assert s.trusted_proxies == ("10.0.0.0/8", "192.168.1.1")


def test_toml_file_then_environment_then_overrides(tmp_path: Path) -> None:
    f = tmp_path / "panne.toml"
    f.write_text('[panne]\nport = 8181\nhost = "0.0.0.0"\ntrusted_proxies = ["127.0.0.1"]\n')
    s = load(f, environ={"PANNE_HOST": "127.0.0.2"}, port=None)
    assert (s.port, s.host, s.trusted_proxies) == (8181, "127.0.0.2", ("127.0.0.1",))
    assert load(f, environ={}, port=9999).port == 9999


def test_config_file_from_environment(tmp_path: Path) -> None:
    f = tmp_path / "x.toml"
    f.write_text("dedupe_window_minutes = 5\n")
    assert load(environ={"PANNE_CONFIG": str(f)}).dedupe_window_minutes == 5


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PANNE_PORT": "eighty"}, "PANNE_PORT: expected an integer"),
        ({"PANNE_PORT": "70000"}, "port: must be between 1 and 65535"),
        ({"PANNE_RATE_LIMIT": "maybe"}, "PANNE_RATE_LIMIT: expected true or false"),
        ({"PANNE_COLOUR": "blue"}, "PANNE_COLOUR: unknown setting"),
        ({"PANNE_LOG_LEVEL": "loud"}, "log_level: must be one of"),
        ({"PANNE_DATABASE_URL": "mysql://x"}, "database_url: must be an sqlite"),
        ({"PANNE_TRUSTED_PROXIES": "not-a-net"}, "trusted_proxies: 'not-a-net'"),
        ({"PANNE_BATCH_MAX_REPORTS": "20000"}, "batch_max_reports: must be between"),
        ({"PANNE_DETECT_INTERVAL_SECONDS": "0"}, "detect_interval_seconds: must be positive"),
    ],
)
def test_bad_values_stop_with_a_line_naming_the_setting(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(environ=environ)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_file(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("port = [1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load(f, environ={})
    f.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="prot: unknown setting"):
        load(f, environ={})
    with pytest.raises(ConfigError, match="No such file"):
        load(tmp_path / "missing.toml", environ={})


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(\w+)`", text, re.MULTILINE))
    assert documented == set(documented_settings())
    for name in documented_settings():
        assert f"PANNE_{name.upper()}" in text


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PANNE_REPORTER_RATE_PER_MINUTE": "nan"}, "reporter_rate_per_minute: must be a finite"),
        ({"PANNE_DETECT_INTERVAL_SECONDS": "inf"}, "detect_interval_seconds: must be a finite"),
        (
            {"PANNE_DETECT_INTERVAL_SECONDS": "1e300"},
            "detect_interval_seconds: must be positive and at most 3600",
        ),
        ({"PANNE_DETECT_WARMUP_DAYS": "-3"}, "detect_warmup_days: must be between 0 and"),
        ({"PANNE_NOTIFY_FLAP_MINUTES": "-inf"}, "notify_flap_minutes: must be a finite"),
        ({"PANNE_DEDUPE_WINDOW_MINUTES": "2000"}, "dedupe_window_minutes: must be between 1"),
        ({"PANNE_CATALOG_RELOAD_SECONDS": "0"}, "catalog_reload_seconds: must be positive"),
        ({"PANNE_HOST": "999.1.1.1"}, "host: must be an IP address or a host name"),
        ({"PANNE_HOST": ""}, "host: must be an IP address or a host name"),
        ({"PANNE_HOST": "bad host"}, "host: must be an IP address or a host name"),
        ({"PANNE_HOST": "[::1]"}, "host: must be an IP address or a host name"),
        (
            {"PANNE_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432"},
            "database_url: a PostgreSQL URL needs a database name",
        ),
        ({"PANNE_DATABASE_URL": "postgresql://x:abc/db"}, "database_url: not a valid URL"),
        ({"PANNE_NATS_URL": "127.0.0.1:4222"}, "nats_url: '127.0.0.1:4222' is not a NATS server"),
        ({"PANNE_NATS_URL": "nats://a:4222,http://b"}, "nats_url: 'http://b' is not a NATS"),
        ({"PANNE_NATS_STREAM": "panne.reports"}, "nats_stream: must be 1 to 64 letters"),
        ({"PANNE_NATS_STREAM_REPLICAS": "7"}, "nats_stream_replicas: must be between 1 and 5"),
        ({"PANNE_NATS_STREAM_MAX_BYTES": "1000"}, "nats_stream_max_bytes: must be at least"),
        ({"PANNE_LEADER_RETRY_SECONDS": "0"}, "leader_retry_seconds: must be positive"),
    ],
)
def test_numbers_and_addresses_out_of_range_are_refused(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(environ=environ)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "::1", "localhost", "panne-1.internal"])
def test_hosts_that_can_be_listened_on_are_accepted(host: str) -> None:
    assert load(environ={"PANNE_HOST": host}).host == host


def test_a_config_file_must_be_a_toml_table_of_settings_in_one_place(tmp_path: Path) -> None:
    f = tmp_path / "panne.toml"
    f.write_text("panne = 1\n")
    with pytest.raises(ConfigError, match=r"panne\.toml: \[panne\] must be a table"):
        load(f, environ={})
    f.write_text('port = 9000\n[panne]\nhost = "0.0.0.0"\n')
    with pytest.raises(ConfigError, match=r"panne\.toml: port is outside \[panne\]"):
        load(f, environ={})
    f.write_bytes(b'host = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"panne\.toml: not UTF-8 text"):
        load(f, environ={})
    f.write_text("[panne]\nport = 9000\n")
    assert load(f, environ={}).port == 9000


def test_every_numeric_setting_has_a_range() -> None:
    from panne.config import _RANGES, numeric_settings

    assert set(_RANGES) == numeric_settings()
    load(environ={})  # and every default is within it


def test_nats_servers_are_a_list_and_the_stream_a_name() -> None:
    s = load(environ={"PANNE_NATS_URL": "nats://10.0.0.1:4222, tls://nats.internal:4222"})
    assert s.nats_url == ("nats://10.0.0.1:4222", "tls://nats.internal:4222")
    assert s.nats_stream == "PANNE_REPORTS"
    assert load(environ={}).nats_url == ()


def test_the_public_url_brackets_an_ipv6_host() -> None:
    cases = [
        ("::", "http://[::]:8080"),
        ("::1", "http://[::1]:8080"),
        ("0.0.0.0", "http://0.0.0.0:8080"),
    ]
    for host, url in cases:
        assert load(environ={"PANNE_HOST": host}).public_url() == url


def test_only_the_database_drivers_panne_installs_are_accepted() -> None:
    refused = (
        "driver is not one panne installs: use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
    )
    for url, message in [
        ("postgresql+psycopg2://u@h/db", f"database_url: the psycopg2 {refused}"),
        ("postgresql+asyncpg://u@h/db", f"database_url: the asyncpg {refused}"),
        ("postgresql+pg8000://u@h/db", f"database_url: the pg8000 {refused}"),
        ("postgresql+psycopg_async://u@h/db", f"database_url: the psycopg_async {refused}"),
        ("sqlite+aiosqlite:///x.db", f"database_url: the aiosqlite {refused}"),
        ("postgresqlx://u@h/db", "database_url: must be an sqlite:// or postgresql URL"),
    ]:
        with pytest.raises(ConfigError) as err:
            load(environ={"PANNE_DATABASE_URL": url})
        assert str(err.value) == f"{message} (got {url!r})"
    for url in (
        "sqlite:///x.db",
        "sqlite+pysqlite:///x.db",
        "sqlite://",
        "postgresql+psycopg://u@h/db",
    ):
        assert load(environ={"PANNE_DATABASE_URL": url}).database_url == url


def test_base_url_must_be_an_absolute_http_url_links_can_be_made_from() -> None:
    refused = (
        "base_url: must be empty or an absolute http:// or https:// URL such as "
        "https://status.example.org/panne (a host, an optional port and path; no query, "
        "fragment, user or whitespace)"
    )
    for url in [
        "status.example.org",
        "/panne",
        "ftp://status.example.org/",
        "https://",
        "https:///panne",
        "https://status.example.org/panne?lang=fr",
        "https://status.example.org/#top",
        "https://status.example.org/a b",
        " https://status.example.org",
        "https://status.example.org\n",
        "https://ops:secret@status.example.org/",
        "https://status.example.org:99999/",
        "https://status.example.org:0/",
        "https://status.example.org:http/",
        "https://bad_host.example/",
        "http://[zz]/",
    ]:
        with pytest.raises(ConfigError) as err:
            load(environ={"PANNE_BASE_URL": url})
        assert str(err.value) == f"{refused} (got {url!r})"
    for url in [
        "https://status.example.org",
        "https://status.example.org/panne/",
        "http://10.0.0.5:8080",
        "http://[2001:db8::1]:8080/panne",
        "HTTPS://Status.Example.org",
    ]:
        assert load(environ={"PANNE_BASE_URL": url}).public_url() == url.rstrip("/")
