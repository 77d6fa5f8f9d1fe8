"""The command line, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def panne(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PANNE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "panne", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_catalog_list_export_import(tmp_path: Path) -> None:
    out = panne("catalog", "list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "facebook" in out.stdout and "services in" in out.stdout
    assert (tmp_path / "panne.db").exists()  # the default database, in the working directory
    exported = panne("catalog", "export", "-o", "cat.json", cwd=tmp_path)
    assert exported.returncode == 0
    data = json.loads((tmp_path / "cat.json").read_text())
    data["services"].append(
        {"slug": "acme", "name": "Acme", "url": "https://acme.example", "aliases": ["acme inc"]}
    )
    (tmp_path / "cat2.json").write_text(json.dumps(data))
    imported = panne("catalog", "import", "cat2.json", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "1 services added" in imported.stdout
    assert "acme" in panne("catalog", "list", cwd=tmp_path).stdout


def test_bad_catalog_file_is_refused_whole(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(
        '{"problems": {"login": {"en": "Login"}}, '
        '"default_problems": ["login"], "services": '
        '[{"slug": "Bad Slug", "name": "x", "url": "https://x"}]}'
    )
    out = panne("catalog", "import", "bad.json", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith("panne: services[0]") and "Traceback" not in out.stderr
    missing = panne("catalog", "import", "nope.json", cwd=tmp_path)
    assert missing.returncode == 1 and "nope.json" in missing.stderr


def test_bad_setting_stops_with_one_line(tmp_path: Path) -> None:
    out = panne("catalog", "list", cwd=tmp_path, env={"PANNE_PORT": "abc"})
    assert out.returncode == 2
    assert out.stderr.strip() == "panne: PANNE_PORT: expected an integer, got 'abc'"


def test_a_database_that_cannot_be_used_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "not.db").write_text("not a database")
    for url, says in [
        ("sqlite:////proc/panne-nowhere/x.db", "No such file or directory: /proc/panne-nowhere"),
        (f"sqlite:///{tmp_path / 'not.db'}", "the database cannot be used: file is not a database"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/x", "the database cannot be used: connection"),
    ]:
        for command in (["probe", "list"], ["vendor", "poll"], ["apikey", "list"]):
            out = panne(*command, "--database", url, cwd=tmp_path)
            assert out.returncode == 1, (command, url, out.stderr)
            assert "Traceback" not in out.stderr and out.stderr.startswith(f"panne: {says}")
            assert len(out.stderr.strip().splitlines()) == 1


def test_apikey_create_list_revoke(tmp_path: Path) -> None:
    made = panne("apikey", "create", "importer", "--trusted", cwd=tmp_path)
    assert made.returncode == 0
    key = made.stdout.strip()
    assert key.startswith("pk_")
    listed = panne("apikey", "list", cwd=tmp_path).stdout
    assert "trusted" in listed and key not in listed
    assert panne("apikey", "revoke", "1", cwd=tmp_path).returncode == 0
    assert "revoked" in panne("apikey", "list", cwd=tmp_path).stdout
    bad = panne("apikey", "revoke", "42", cwd=tmp_path)
    assert bad.returncode == 1 and "no API key with id 42" in bad.stderr


def test_db_upgrade_on_a_chosen_database(tmp_path: Path) -> None:
    out = panne("db", "upgrade", "--database", f"sqlite:///{tmp_path}/x/y.db", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    from panne.store import migrate

    assert f"database at revision {migrate.head()} " in out.stdout


def test_report_against_a_running_server(make_server: Callable[..., Any], tmp_path: Path) -> None:
    srv = make_server()
    ok = panne("report", "facebook", "login", "--country", "FR", "--url", srv.url, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "accepted" in ok.stdout
    bad = panne("report", "facebook", "atm", "--url", srv.url, cwd=tmp_path)
    assert bad.returncode == 1 and "422" in bad.stderr and "atm" in bad.stderr
    down = panne("report", "facebook", "login", "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert down.returncode == 1 and "cannot reach" in down.stderr


def test_simulate_into_a_database_with_labels(tmp_path: Path) -> None:
    out = panne("simulate", "--scenario", "meta-2024", "--start", "2024-03-05T15:15:00Z",
                "--minutes", "20", "--scale", "0.05", "--labels", "labels.json",
                cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "outage meta_2024_03_05: facebook at 2024-03-05 15:25" in out.stdout
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert {o["service"] for o in labels} == {"facebook", "instagram", "threads", "messenger"}
    import sqlite3

    with sqlite3.connect(tmp_path / "panne.db") as db:
        (n,) = db.execute("select count(*) from reports where source = 'simulate'").fetchone()
    assert n > 1000
    bad = panne("simulate", "--start", "yesterday", cwd=tmp_path)
    assert bad.returncode == 1 and "ISO 8601" in bad.stderr


def test_serve_on_a_busy_port_fails_at_once_naming_the_option(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        out = panne("serve", "--port", port, "--database", "sqlite:///busy.db", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert out.stdout == ""  # no "serving on" for a server that never served
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("panne: ") and "--port" in line and "in use" in line
    assert not (tmp_path / "busy.db").exists()  # nothing was migrated or warmed up first


def test_serve_on_a_host_that_cannot_be_resolved_names_the_setting(tmp_path: Path) -> None:
    out = panne("serve", "--host", "nowhere.invalid", "--port", "8131", cwd=tmp_path)
    assert out.returncode == 1
    (line,) = out.stderr.strip().splitlines()
    assert "nowhere.invalid" in line and "--host" in line and "PANNE_HOST" in line
    bad = panne("serve", cwd=tmp_path, env={"PANNE_HOST": "999.1.1.1"})
    assert bad.returncode == 2 and bad.stderr.startswith("panne: host: must be an IP address")


def test_serve_says_where_it_listens_once_it_does(tmp_path: Path) -> None:
    import httpx
    from tests.conftest import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANNE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "panne", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PANNE_DETECT_WARMUP_DAYS": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"serving on http://127.0.0.1:{port}" in line, proc.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=60)  # and close the pipes


def test_urls_that_are_not_urls_are_one_line(tmp_path: Path) -> None:
    for url in ("http://[::1", "ftp://127.0.0.1", "nonsense"):
        out = panne("report", "facebook", "login", "--url", url, cwd=tmp_path)
        assert out.returncode == 1, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
        assert url in out.stderr
    sim = panne("simulate", "--server", "http://[::1", "--api-key", "k", cwd=tmp_path)
    assert sim.returncode == 1 and "Traceback" not in sim.stderr and "http://[::1" in sim.stderr


def test_a_postgresql_url_without_a_database_is_refused(tmp_path: Path) -> None:
    out = panne("db", "upgrade", "--database", "postgresql+psycopg://postgres@127.0.0.1:5432",
                cwd=tmp_path)  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith("panne: database_url: a PostgreSQL URL needs a database name")


def test_simulate_reads_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "panne.toml").write_text('database_url = "sqlite:///from-config.db"\n')
    out = panne("--config", "panne.toml", "simulate", "--scenario", "none", "--minutes", "2",
                "--scale", "0.05", "--start", "2024-03-05T15:00:00Z", cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "from-config.db").exists() and not (tmp_path / "panne.db").exists()


def test_simulate_refuses_seeds_and_scales_numpy_cannot_take_at_parsing(tmp_path: Path) -> None:
    for option, value, says in [
        ("--seed", "-1", "argument --seed: must be a whole number 0 or more (got -1)"),
        ("--scale", "1e300", "argument --scale: must be more than 0 and at most 1000 (got 1e300)"),
        ("--scale", "inf", "argument --scale: must be more than 0 and at most 1000 (got inf)"),
        ("--scale", "nan", "argument --scale: must be more than 0 and at most 1000 (got nan)"),
        ("--scale", "0", "argument --scale: must be more than 0 and at most 1000 (got 0)"),
        ("--scale", "-2", "argument --scale: must be more than 0 and at most 1000 (got -2)"),
    ]:
        out = panne("simulate", "--minutes", "1", "--labels", "labels.json", f"{option}={value}",
                    cwd=tmp_path)  # fmt: skip
        assert out.returncode == 2, (option, value, out.stderr)
        assert out.stderr.splitlines()[-1] == f"panne simulate: error: {says}"
        assert "Traceback" not in out.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == []  # no database, no labels


def test_simulate_refuses_a_time_outside_2000_to_9999_before_any_work(tmp_path: Path) -> None:
    within = "the simulated time must lie between 2000-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
    for start in ("1999-12-31T23:59:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:58:00Z"):
        out = panne("simulate", "--start", start, "--minutes", "2", "--scale", "0.05",
                    "--labels", "labels.json", cwd=tmp_path)  # fmt: skip
        assert out.returncode == 1, (start, out.stderr)
        assert out.stderr == f"panne: --start {start} with --minutes 2: {within}\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == []
    ok = panne("simulate", "--start", "9999-12-31T23:57:00Z", "--minutes", "2", "--scale",
               "0.05", "--scenario", "none", cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "from 9999-12-31 23:57 to 23:59 UTC" in ok.stdout


def test_simulate_checks_the_labels_file_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    for labels, says in [
        ("taken", "--labels taken: is a directory, not a file"),
        ("missing/labels.json", "--labels missing/labels.json: cannot be written (No such file "
         "or directory)"),
    ]:  # fmt: skip
        out = panne("simulate", "--minutes", "2", "--scale", "0.05", "--labels", labels,
                    cwd=tmp_path)  # fmt: skip
        assert out.returncode == 1, out.stderr
        assert out.stderr == f"panne: {says}\n"
        assert not (tmp_path / "panne.db").exists()  # nothing generated, nothing stored
        assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
        assert list((tmp_path / "taken").iterdir()) == []
    # A run that fails once the labels' temporary file is made leaves the old file as it was.
    (tmp_path / "labels.json").write_text("[]")
    out = panne("simulate", "--minutes", "2", "--scale", "0.05", "--labels", "labels.json",
                "--database", "sqlite:///labels.json/panne.db", cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1 and len(out.stderr.splitlines()) == 1, out.stderr
    assert (tmp_path / "labels.json").read_text() == "[]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.json", "taken"]


def test_simulate_labels_hold_only_the_simulated_time(tmp_path: Path) -> None:
    """The Meta outage starts ten minutes in and lasts two hours and ten minutes: five minutes
    of traffic hold none of it, twenty minutes the first ten, cut at the end."""
    run = ("simulate", "--scenario", "meta-2024", "--start", "2024-03-05T15:15:00Z", "--scale",
           "0.05", "--labels", "labels.json")  # fmt: skip
    short = panne(*run, "--minutes", "5", cwd=tmp_path)
    assert short.returncode == 0, short.stderr
    assert json.loads((tmp_path / "labels.json").read_text()) == []
    assert "outage" not in short.stdout
    longer = panne(*run, "--minutes", "20", cwd=tmp_path)
    assert longer.returncode == 0, longer.stderr
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert [o["service"] for o in labels] == ["facebook", "instagram", "threads", "messenger"]
    for o in labels:
        assert o["start_iso"] == "2024-03-05T15:25:00+00:00"
        assert o["end_iso"] == "2024-03-05T15:35:00+00:00" and o["cut_at_end"] is True
    assert "facebook at 2024-03-05 15:25 for 10 min (still on at the end)" in longer.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.json", "panne.db"]


def write_catalog(path: Path, **service: Any) -> None:
    base = {"slug": "acme", "name": "Acme", "url": "https://acme.example", "aliases": ["a"]}
    path.write_text(
        json.dumps(
            {
                "problems": {"login": {"en": "Login"}},
                "default_problems": service.pop("default_problems", ["login"]),
                "groups": [{"slug": "acme-corp", "name": service.pop("group_name", "Acme")}],
                "services": [{**base, **service}],
            }
        )
    )


def test_catalog_files_that_crashed_the_import_are_one_line(tmp_path: Path) -> None:
    f = tmp_path / "cat.json"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"problems": [{"a": 1}]}, "services[0] (acme): unknown problem {'a': 1}"),
        ({"default_problems": [["login"]]}, "default_problems: unknown problem ['login']"),
        ({"name": "n" * 201}, "services[0] (acme): 'name' is longer than 200 characters"),
        (
            {"url": "https://x.example/" + "u" * 2000},
            "services[0] (acme): 'url' is longer than 2000 characters",
        ),
        ({"group_name": "g" * 201}, "groups[0]: 'name' is longer than 200 characters"),
    ]
    for service, says in cases:
        write_catalog(f, **service)
        out = panne("catalog", "import", "cat.json", cwd=tmp_path)
        assert out.returncode == 1, (service, out.stderr)
        assert out.stderr.strip() == f"panne: {says}", out.stderr
    f.write_bytes(b'{"problems": "caf\xe9"}')
    out = panne("catalog", "import", "cat.json", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.startswith("panne: ")
    assert "not UTF-8" in out.stderr and "Traceback" not in out.stderr


def test_catalog_import_tells_unchanged_from_updated(tmp_path: Path) -> None:
    assert panne("catalog", "export", "-o", "cat.json", cwd=tmp_path).returncode == 0
    again = panne("catalog", "import", "cat.json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 services added, 0 updated" in again.stdout and "unchanged" in again.stdout
    data = json.loads((tmp_path / "cat.json").read_text())
    data["services"][0]["name"] = "Renamed"
    (tmp_path / "cat.json").write_text(json.dumps(data))
    once = panne("catalog", "import", "cat.json", cwd=tmp_path)
    assert "0 services added, 1 updated" in once.stdout


def stored_services(tmp_path: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(tmp_path / "panne.db") as db:
        return {slug for (slug,) in db.execute("select slug from services")}


def test_catalog_import_refuses_long_names_and_spaced_urls_in_one_line(tmp_path: Path) -> None:
    """The limits the store holds (slug 64, names and labels 200), said as they are; a URL with
    whitespace refused as a webhook's would be; nothing of a refused file is stored."""
    assert panne("catalog", "list", cwd=tmp_path).returncode == 0  # the default catalog
    f = tmp_path / "cat.json"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"slug": "a" * 201}, "services[0]: 'slug' is longer than 64 characters"),
        ({"slug": "a" * 65}, "services[0]: 'slug' is longer than 64 characters"),
        ({"url": "https://acme.example/a b"}, "services[0] (acme): url: contains a space"
         " (U+0020; write it as %20 in a URL)"),
        ({"url": "https://acme.example/\tx"}, "services[0] (acme): url: contains a control"
         " character (U+0009)"),
    ]  # fmt: skip
    for service, says in cases:
        write_catalog(f, **service)
        out = panne("catalog", "import", "cat.json", cwd=tmp_path)
        assert out.returncode == 1, (service, out.stderr)
        assert out.stderr == f"panne: {says}\n"
    data = json.loads(f.read_text())
    data["problems"]["login"]["fr"] = "C" * 201
    f.write_text(json.dumps(data))
    out = panne("catalog", "import", "cat.json", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr == "panne: problems.login: label 'fr' is longer than 200 characters\n"
    assert "acme" not in stored_services(tmp_path)


def test_catalog_import_reads_a_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    write_catalog(tmp_path / "cat.json")
    text = (tmp_path / "cat.json").read_text()
    (tmp_path / "cat.json").write_text(text, encoding="utf-8-sig")  # as Notepad writes it
    assert (tmp_path / "cat.json").read_bytes().startswith(b"\xef\xbb\xbf")
    out = panne("catalog", "import", "cat.json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "1 services added" in out.stdout
    assert "acme" in stored_services(tmp_path)


def test_catalog_import_says_which_problem_lists_changed(tmp_path: Path) -> None:
    assert panne("catalog", "export", "-o", "cat.json", cwd=tmp_path).returncode == 0
    data = json.loads((tmp_path / "cat.json").read_text())
    by_slug = {s["slug"]: s for s in data["services"]}
    by_slug["facebook"]["problems"] = ["login", "website"]
    by_slug["gmail"]["problems"] = ["login"]
    by_slug["x"]["name"] = "X, renamed"  # updated, its problems as they were
    (tmp_path / "cat.json").write_text(json.dumps(data))
    out = panne("catalog", "import", "cat.json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "0 services added, 3 updated" in out.stdout
    order = [s["slug"] for s in data["services"] if s["slug"] in ("facebook", "gmail")]
    assert f"; problem lists 2 changed ({', '.join(order)}); probes" in out.stdout
    again = panne("catalog", "import", "cat.json", cwd=tmp_path)
    assert "0 updated" in again.stdout and "; problem lists 0 changed; probes" in again.stdout


HOME = {"id": "acme-home", "kind": "http", "target": "https://acme.example/", "timeout_ms": 3000}
SMTP = {"id": "acme-smtp", "kind": "tcp", "target": "mx.acme.example:25", "retries": 1}
PAGE = {"kind": "statuspage", "url": "https://status.acme.example", "components": ["API"]}
# The guard resolves each target on import; these names are the operator's to check, not ours.
ALLOW = {"PANNE_PROBE_ALLOW_PRIVATE": "true", "PANNE_VENDOR_ALLOW_PRIVATE": "true"}


def test_catalog_probes_and_status_page_import_list_export_and_round_trip(
    db_url: str, tmp_path: Path
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = panne(*args, "--database", db_url, cwd=tmp_path, env=ALLOW)
        assert done.returncode == 0, done.stderr
        return done

    write_catalog(tmp_path / "cat.json", probes=[HOME, SMTP], status_page=PAGE)
    imported = run("catalog", "import", "cat.json")
    assert imported.stdout.strip().endswith(
        "1 services added, 0 updated, 0 unchanged; problem lists 0 changed; probes 2 added,"
        " 0 updated, 0 removed; status pages 1 added, 0 updated, 0 removed"
    )
    listed = run("probe", "list").stdout.splitlines()
    assert [line.split()[:4] for line in listed[:2]] == [
        ["acme-home", "acme", "http", "unknown"],
        ["acme-smtp", "acme", "tcp", "unknown"],
    ]
    assert listed[2] == "2 probes"
    assert run("vendor", "list").stdout.split()[:2] == ["acme", "statuspage"]

    run("catalog", "export", "-o", "out.json")
    exported = json.loads((tmp_path / "out.json").read_text())
    [acme] = [s for s in exported["services"] if s["slug"] == "acme"]
    assert acme["probes"] == [
        {**HOME, "interval_seconds": 60.0, "retries": 0},
        {**SMTP, "interval_seconds": 60.0, "timeout_ms": 10_000},
    ]
    assert acme["status_page"] == {**PAGE, "interval_seconds": 120}
    assert not any("probes" in s for s in exported["services"] if s["slug"] != "acme")
    again = run("catalog", "import", "out.json").stdout
    assert "0 services added, 0 updated" in again
    assert "probes 0 added, 0 updated, 0 removed; status pages 0 added, 0 updated" in again

    del acme["status_page"]
    acme["probes"] = acme["probes"][:1]
    (tmp_path / "out.json").write_text(json.dumps(exported))
    fewer = run("catalog", "import", "out.json").stdout
    assert "probes 0 added, 0 updated, 1 removed; status pages 0 added, 0 updated, 1 removed" in (
        fewer
    )
    assert run("probe", "list").stdout.splitlines()[-1] == "1 probes"
    assert run("vendor", "list").stdout.strip() == "0 vendor sources"


def test_a_bad_probe_or_status_page_in_a_catalog_is_one_line_and_stores_nothing(
    tmp_path: Path,
) -> None:
    f = tmp_path / "cat.json"
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"probes": [HOME, {**SMTP, "interval_seconds": 5, "timeout_ms": 2000}]},
            "services[0] (acme): probe 'acme-smtp': interval_seconds: must be at least 10 (got 5)",
        ),
        (
            {"probes": [{**HOME, "keyword": 3}]},
            "services[0] (acme): probe 'acme-home': keyword: must be a string (got 3)",
        ),
        (
            {"probes": [HOME], "status_page": {**PAGE, "components": "API"}},
            "services[0] (acme): status_page: components: must be a list of non-empty names",
        ),
        (
            {"status_pages": PAGE},
            "services[0] (acme): unknown key 'status_pages' (a service has slug, name, group,"
            " url, aliases, problems, probes, status_page)",
        ),
        # The address guard, as the admin API applies it (unless probe_allow_private).
        (
            {"probes": [{**HOME, "target": "http://127.0.0.1:18201/"}]},
            "services[0] (acme): probe 'acme-home': target: 127.0.0.1 is a loopback address:"
            " probes reach only public addresses unless probe_allow_private is set",
        ),
        (
            {"status_page": {**PAGE, "url": "http://10.1.2.3:18202/"}},
            "services[0] (acme): status_page: url: 10.1.2.3 is a private address: vendor pages"
            " are fetched from only public addresses unless vendor_allow_private is set",
        ),
    ]
    for service, says in cases:
        write_catalog(f, **service)
        out = panne("catalog", "import", "cat.json", cwd=tmp_path)
        assert out.returncode == 1, (service, out.stderr)
        (line,) = out.stderr.strip().splitlines()
        assert line.startswith(f"panne: {says}"), line
    assert "acme" not in panne("catalog", "list", cwd=tmp_path).stdout
    assert panne("probe", "list", cwd=tmp_path).stdout.strip() == "0 probes"
    assert panne("vendor", "list", cwd=tmp_path).stdout.strip() == "0 vendor sources"


def test_an_import_refuses_a_probe_id_an_operator_defined(tmp_path: Path) -> None:
    from panne.signals.probes import ProbeSpec
    from panne.store import migrate, probe_defs
    from panne.store import probes as probe_store
    from panne.store.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'panne.db'}")
    migrate.upgrade(engine)
    mine = ProbeSpec(id="acme-home", service="facebook", kind="http", target="https://fb.example/")
    probe_store.upsert_specs(engine, [mine], now=0.0)  # as the admin API stores one
    write_catalog(tmp_path / "cat.json", probes=[HOME])
    out = panne("catalog", "import", "cat.json", cwd=tmp_path, env=ALLOW)
    assert out.returncode == 1
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith(
        "panne: services[0] (acme): probe 'acme-home': id: taken by a probe of 'facebook'"
        " defined through the admin API"
    )
    assert "acme" not in panne("catalog", "list", cwd=tmp_path).stdout  # nothing imported
    [kept] = probe_defs.list_probes(engine)
    assert (kept.spec, kept.origin) == (mine, "admin")
    engine.dispose()


def test_roles_that_need_a_server_say_so(tmp_path: Path) -> None:
    out = panne("worker", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith("panne: panne worker stores the report stream")
    out = panne("detector", cwd=tmp_path)
    assert out.returncode == 1
    assert "PostgreSQL" in out.stderr and "Traceback" not in out.stderr
    from tests.conftest import free_port

    port = free_port()
    out = panne("worker", cwd=tmp_path, env={"PANNE_NATS_URL": f"nats://127.0.0.1:{port}"})
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"panne: cannot reach NATS at nats://127.0.0.1:{port} (nats_url)")
    assert "Traceback" not in out.stderr and "storing" not in out.stdout
    for role in ("ingest", "web", "serve"):
        out = panne(role, "--port", str(free_port()), cwd=tmp_path,
                    env={"PANNE_NATS_URL": f"nats://127.0.0.1:{port}"})  # fmt: skip
        assert out.returncode == 1, out.stderr
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith(f"panne: cannot reach NATS at nats://127.0.0.1:{port} (nats_url)")
        assert "Traceback" not in out.stderr and "serving" not in out.stdout


def test_apikey_ids_the_databases_cannot_hold_are_usage_errors(db_url: str, tmp_path: Path) -> None:
    for bad in ("99999999999999999999", "2147483648", "0", "-1", "abc", "²"):
        out = panne("apikey", "revoke", "--database", db_url, "--", bad, cwd=tmp_path)
        assert out.returncode == 2, (bad, out.stderr)
        assert out.stderr.strip().splitlines()[-1] == (
            f"panne apikey revoke: error: argument id: not an API key id (1 to 2147483647): {bad!r}"
        )
    # The largest id fits PostgreSQL's INTEGER as it fits SQLite's: asked, and not found.
    out = panne("apikey", "revoke", "2147483647", "--database", db_url, cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip() == "panne: no API key with id 2147483647"


def test_revoking_a_revoked_key_says_so_and_fails(db_url: str, tmp_path: Path) -> None:
    assert panne("apikey", "create", "ops", "--database", db_url, cwd=tmp_path).returncode == 0
    first = panne("apikey", "revoke", "1", "--database", db_url, cwd=tmp_path)
    assert (first.returncode, first.stdout.strip()) == (0, "key 1 (ops) revoked")
    again = panne("apikey", "revoke", "1", "--database", db_url, cwd=tmp_path)
    assert again.returncode == 1
    assert (again.stdout, again.stderr.strip()) == ("", "panne: key 1 (ops) is already revoked")
    missing = panne("apikey", "revoke", "2", "--database", db_url, cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip() == "panne: no API key with id 2"


def test_apikey_names_are_checked_alike_on_both_databases(db_url: str, tmp_path: Path) -> None:
    blank = "panne: an API key name cannot be empty or only spaces"
    control = "panne: an API key name cannot hold a newline, a tab or another control character"
    for name, says in [
        ("", blank),
        ("   ", blank),
        ("ops\nteam", f"{control} (got 'ops\\nteam')"),
        ("ops\tteam", f"{control} (got 'ops\\tteam')"),
        ("ops\x1b[2J", f"{control} (got 'ops\\x1b[2J')"),
        ("é" * 201, "panne: an API key name is at most 200 characters (got 201)"),
    ]:
        out = panne("apikey", "create", "--database", db_url, "--", name, cwd=tmp_path)
        assert out.returncode == 1, (name, out.stderr)
        assert (out.stdout, out.stderr.strip()) == ("", says)
    assert not (tmp_path / "panne.db").exists()  # refused before any database was opened
    longest = panne("apikey", "create", "é" * 200, "--database", db_url, cwd=tmp_path)
    assert longest.returncode == 0, longest.stderr  # 200 characters: the column's length
    listed = panne("apikey", "list", "--database", db_url, cwd=tmp_path).stdout
    assert listed.rstrip("\n").endswith("é" * 200) and len(listed.splitlines()) == 1


def test_a_database_migrated_by_a_newer_panne_is_one_line(db_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    from panne.store import migrate
    from panne.store.engine import make_engine

    engine = make_engine(db_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    engine.dispose()
    for command in (["db", "upgrade"], ["apikey", "list"]):
        out = panne(*command, "--database", db_url, cwd=tmp_path)
        assert out.returncode == 1, out.stderr
        assert out.stderr.strip() == (
            "panne: the database cannot be used: its schema is at revision '0099_future', which "
            f"this panne does not know (its newest is {migrate.head()!r}): was it migrated by a "
            "newer panne?"
        )


def test_database_drivers_panne_does_not_install_are_refused_by_the_settings(
    tmp_path: Path,
) -> None:
    for url, driver in [
        ("postgresql+psycopg2://postgres@127.0.0.1:5432/test", "psycopg2"),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/test", "asyncpg"),
        (f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", "aiosqlite"),
    ]:
        out = panne("db", "upgrade", "--database", url, cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert out.stderr.strip() == (
            f"panne: database_url: the {driver} driver is not one panne installs: use "
            f"sqlite:///FILE or postgresql+psycopg://USER@HOST/DB (got {url!r})"
        )
    assert list(tmp_path.iterdir()) == []


def test_detector_refuses_sqlite_before_creating_anything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'panne.db'}"
    out = panne("detector", "--database", url, cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "panne: panne detector elects its active process through PostgreSQL, and database_url "
        f"is an SQLite file ({url}): set it (--database, PANNE_DATABASE_URL) to a "
        "postgresql+psycopg:// URL, or run every role in one process with panne serve"
    )
    assert out.stdout == "" and list(tmp_path.iterdir()) == []  # no file, no folder


def _ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


class Serving:
    """`panne ROLE --host HOST --port PORT` as a real process, once it says it serves."""

    def __init__(self, tmp_path: Path, role: str, host: str) -> None:
        from tests.conftest import free_port

        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PANNE_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "panne", role, "--host", host, "--port", str(self.port)],
            cwd=tmp_path,
            env={**env, "PANNE_DETECT_WARMUP_DAYS": "0"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.line = self.proc.stdout.readline()

    def end(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig`` (unless it ended already); the exit status and standard error."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def test_an_ipv6_host_is_written_in_brackets(tmp_path: Path) -> None:
    import httpx

    if not _ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    srv = Serving(tmp_path, "serve", "::1")
    try:
        assert f"serving on http://[::1]:{srv.port} (database " in srv.line, srv.line
        assert httpx.get(f"http://[::1]:{srv.port}/healthz", timeout=10).status_code == 200
    finally:
        srv.end()


@pytest.mark.parametrize(
    ("role", "sig"),
    [
        ("serve", signal.SIGTERM),
        ("serve", signal.SIGINT),
        ("web", signal.SIGTERM),
        ("ingest", signal.SIGTERM),
    ],
    ids=["serve-SIGTERM", "serve-SIGINT", "web-SIGTERM", "ingest-SIGTERM"],
)
def test_the_serving_roles_exit_0_on_sigterm_and_sigint(
    tmp_path: Path, role: str, sig: signal.Signals
) -> None:
    import httpx

    srv = Serving(tmp_path, role, "127.0.0.1")
    try:
        assert f"serving on http://127.0.0.1:{srv.port}" in srv.line, srv.line
        assert httpx.get(f"http://127.0.0.1:{srv.port}/healthz", timeout=10).status_code == 200
    finally:
        code, err = srv.end(sig)
    assert code == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_a_busy_ipv6_metrics_address_is_written_in_brackets(pg_url: str, tmp_path: Path) -> None:
    import socket

    if not _ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    with socket.socket(socket.AF_INET6) as taken:
        taken.bind(("::1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = panne("detector", "--database", pg_url, "--metrics-host", "::1",
                    "--metrics-port", str(port), cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"panne: cannot serve metrics on [::1]:{port} (--metrics-host/--metrics-port): "
        )
    )
