"""Docs that cannot drift: the README's commands, the CLI reference, and the code's own checks."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from panne.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(python3 -m venv[^\n]+)\n```", text)


def test_readme_has_the_two_commands_and_ci_runs_the_second() -> None:
    serve, tests = _readme_commands()
    assert serve.endswith("panne serve --demo")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f'TEST_COMMAND="{tests}"' in ci


def _commands(parser: object, prefix: str = "") -> list[str]:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix} {name}".strip()
                nested = _commands(sub, full)
                out.extend(nested or [full])
    return out


def test_every_command_is_in_the_cli_reference() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in _commands(build_parser()):
        assert f"## `panne {command}`" in text, command
    generated = runpy.run_path(str(ROOT / "scripts" / "cli_reference.py"))["render"]()
    assert text == generated, "docs/cli.md is stale: run scripts/cli_reference.py"


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "scripts"],
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--check",
            "src",
            "tests",
            "benchmarks",
            "scripts",
        ],
        [sys.executable, "-m", "mypy"],
    ],
    ids=["ruff", "ruff-format", "mypy"],
)
def test_code_checks_pass(command: list[str]) -> None:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_catalog_file_example_is_a_valid_service() -> None:
    from panne.catalog import default_catalog, parse

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("### The catalog file", 1)[1]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    doc = default_catalog().to_dict()
    svc = parse({**doc, "services": [example]}).services["acme"]
    assert [p.id for p in svc.probes] == ["acme-home", "acme-dns"]
    assert svc.status_page is not None and svc.status_page.components == ("API", "Website")
