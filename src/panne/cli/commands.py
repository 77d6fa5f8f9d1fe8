"""The commands that do one thing and end: report, db, catalog, apikey, probe, vendor,
backtest, simulate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from panne.cli.common import CliError, node_from, settings_from

# -- report --------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    import httpx

    body: dict[str, str] = {"service": args.service, "problem": args.problem}
    if args.country:
        body["country"] = args.country
    url = args.url.rstrip("/") + "/api/v1/reports"
    try:
        resp = httpx.post(url, json=body, timeout=10)
    except httpx.UnsupportedProtocol:
        raise CliError(f"--url {args.url!r} is not an http:// or https:// URL") from None
    except httpx.InvalidURL as exc:
        raise CliError(f"--url {args.url!r} is not a valid URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {args.url}: {exc}") from None
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code != 202:
        detail = data.get("detail", resp.text) if isinstance(data, dict) else resp.text
        raise CliError(f"refused ({resp.status_code}): {' '.join(str(detail).split())[:300]}")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise CliError(f"{args.url} answered 202 without a report id: is it a panne server?")
    note = "" if data.get("counted", True) else " (already counted in the last minutes)"
    print(f"report {data['id']} accepted{note}")
    return 0


# -- db ------------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from panne.store import migrate
    from panne.store.engine import make_engine

    settings = settings_from(args)
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    print(f"database at revision {migrate.current(engine)} ({settings.database_url})")
    return 0


# -- catalog -------------------------------------------------------------------------------


def cmd_catalog_list(args: argparse.Namespace) -> int:
    cat = node_from(args).catalog
    width = max((len(s.slug) for s in cat.services.values()), default=4)
    for svc in sorted(cat.services.values(), key=lambda s: s.slug):
        print(
            f"{svc.slug:<{width}}  {svc.name:<28} {svc.group or '-':<12} {', '.join(svc.problems)}"
        )
    print(f"{len(cat.services)} services in {len(cat.groups)} groups")
    return 0


def cmd_catalog_import(args: argparse.Namespace) -> int:
    from panne.catalog import load_file, problem_lists_changed
    from panne.signals.definition_guard import catalog_refusal
    from panne.store import catalog as catalog_store

    incoming = load_file(Path(args.file))
    settings = settings_from(args)
    refused = catalog_refusal(
        incoming,
        probe_allow_private=settings.probe_allow_private,
        vendor_allow_private=settings.vendor_allow_private,
    )
    if refused is not None:
        raise CliError(refused)  # worded as the file's other errors
    node = node_from(args)
    # "1 updated" may be a new name or new problems: which services' reports change shape
    # (buttons, the problems chart, detection by problem) is worth saying by name.
    relisted = problem_lists_changed(node.catalog, incoming)
    which = f" ({', '.join(relisted)})" if relisted else ""
    done = catalog_store.import_catalog(node.engine, incoming, now=node.clock.now())
    svc, probes, pages = done
    print(
        f"imported {args.file}: {svc.added} services added, {svc.updated} updated, "
        f"{svc.unchanged} unchanged; problem lists {len(relisted)} changed{which}; "
        f"probes {probes.added} added, {probes.updated} updated, {probes.removed} removed; "
        f"status pages {pages.added} added, {pages.updated} updated, {pages.removed} removed"
    )
    return 0


def cmd_catalog_export(args: argparse.Namespace) -> int:
    cat = node_from(args).catalog
    text = json.dumps(cat.to_dict(), ensure_ascii=False, indent=2) + "\n"
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(cat.services)} services to {args.output}", file=sys.stderr)
    return 0


# -- apikey --------------------------------------------------------------------------------

# Key ids are INTEGER columns: 32 bits signed on PostgreSQL, which refuses a larger number with
# an error, as SQLite's driver refuses one beyond 64 bits.
KEY_ID_MAX = 2**31 - 1


def key_id(text: str) -> int:
    """An API key id, checked as it is parsed: a number the database cannot hold is a usage
    error, not a failed query."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= KEY_ID_MAX:
        raise argparse.ArgumentTypeError(f"not an API key id (1 to {KEY_ID_MAX}): {text!r}")
    return int(text)


def cmd_apikey_create(args: argparse.Namespace) -> int:
    from panne.store import keys

    refused = keys.name_refusal(args.name)
    if refused is not None:  # before the database is opened, let alone created
        raise CliError(refused)
    node = node_from(args)
    key, plain = keys.create(
        node.engine, args.name, trusted=args.trusted, now_ms=int(node.clock.now() * 1000)
    )
    print(plain)
    print(
        f"key {key.id} ({key.name}{', trusted' if key.trusted else ''}) created; "
        "it is shown only this once",
        file=sys.stderr,
    )
    return 0


def cmd_apikey_list(args: argparse.Namespace) -> int:
    from panne.store import keys

    for key in keys.list_keys(node_from(args).engine):
        state = "revoked" if key.revoked else ("trusted" if key.trusted else "active")
        print(f"{key.id:>4}  {key.prefix}…  {state:<8} {key.name}")
    return 0


def cmd_apikey_revoke(args: argparse.Namespace) -> int:
    from panne.store import keys

    key = keys.revoke(node_from(args).engine, args.id)
    if key is None:
        raise CliError(f"no API key with id {args.id}")
    if key.revoked:  # a script revoking a key it means to have live is told so
        raise CliError(f"key {key.id} ({key.name}) is already revoked")
    print(f"key {key.id} ({key.name}) revoked")
    return 0


# -- probe ---------------------------------------------------------------------------------


def cmd_probe_list(args: argparse.Namespace) -> int:
    from panne.store import probe_defs

    found = probe_defs.list_probes(node_from(args).engine)
    for p in found:
        state = "paused" if p.paused else p.state
        print(f"{p.spec.id:<24} {p.spec.service:<16} {p.spec.kind:<4}  {state:<7}  {p.spec.target}")
    print(f"{len(found)} probes")
    return 0


def cmd_probe_run(args: argparse.Namespace) -> int:
    node = node_from(args)
    try:
        runs = node.probe_once()
    finally:
        node.engine.dispose()
    for run in runs:
        r = run.result
        outcome = "ok" if r.ok else r.error_class
        print(
            f"{run.spec.id:<24} {run.spec.service:<16} {run.spec.kind:<4}  {outcome:<18} "
            f"{r.latency_ms:8.1f} ms  {run.state:<7}  {r.detail}"
        )
    failed = sum(not run.result.ok for run in runs)
    down = sum(run.state == "down" for run in runs)
    print(f"{len(runs)} probes run, {failed} failed, {down} down", file=sys.stderr)
    return 1 if failed or down else 0


# -- vendor --------------------------------------------------------------------------------


def cmd_vendor_list(args: argparse.Namespace) -> int:
    from panne.store import vendor_status as vendor_store

    engine = node_from(args).engine
    states = vendor_store.load_states(engine)
    rows = vendor_store.load_sources(engine)
    for row in rows:
        s, state = row.source, states.get(row.source.service)
        shown = "unknown" if state is None else state.state + (" (stale)" if state.stale else "")
        print(f"{s.service:<16} {s.kind:<10} {s.interval_seconds:>6} s  {shown:<19} {s.url}")
    print(f"{len(rows)} vendor sources")
    return 0


def cmd_vendor_poll(args: argparse.Namespace) -> int:
    node = node_from(args)
    try:
        states = node.vendor_once()
    finally:
        node.engine.dispose()
    for st in states:
        stale = "stale" if st.stale else "fresh"
        print(f"{st.service:<16} {st.state:<11} {stale:<5}  {st.error or st.description}")
    failed = sum(st.stale for st in states)
    print(f"{len(states)} vendor sources polled, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


# -- backtest and simulate ------------------------------------------------------------------


def cmd_backtest(args: argparse.Namespace) -> int:
    from panne.detect.backtest import BacktestError, format_incidents, run_backtest

    try:
        result = run_backtest(Path(args.input), Path(args.output), series_column=args.series)
    except BacktestError as exc:
        raise CliError(str(exc)) from None
    print(format_incidents(result))
    return 0


# The most `panne simulate --scale` multiplies every service's usual volume by. Each report is
# generated as an object, a minute at a time: at 1000 the background is some 400,000 reports a
# minute (half a gigabyte and ten seconds to make), and an outage's peak tens of times that for
# its service. Counts stay far from the float and int64 limits numpy draws them within.
SIMULATE_SCALE_MAX = 1000.0


def simulate_seed(text: str) -> int:
    """``--seed``: numpy's generators take any whole number from 0, and raise deep inside on
    a negative one."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number 0 or more (got {seed})")
    return seed


def simulate_scale(text: str) -> float:
    """``--scale``: more than 0 (a zero volume would simulate nothing) and at most
    SIMULATE_SCALE_MAX, which inf and nan are not either."""
    try:
        scale = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < scale <= SIMULATE_SCALE_MAX:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {SIMULATE_SCALE_MAX:g} (got {text})"
        )
    return scale


def cmd_simulate(args: argparse.Namespace) -> int:
    from panne.simulate.run import SimulateError, simulate

    try:
        simulate(args, print)
    except SimulateError as exc:
        raise CliError(str(exc)) from None
    return 0
