"""Write docs/cli.md from the CLI's own parser, so the reference cannot drift.

Run: .venv/bin/python scripts/cli_reference.py   (tests/test_docs.py checks it is up to date)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from panne.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
INTRO = """# Command line

`panne COMMAND [options]`. Every command that touches the database takes `--database URL`
(or `$PANNE_DATABASE_URL`, default `sqlite:///panne.db`) and the global `--config FILE`; see
[configuration.md](configuration.md). Errors are one line on standard error and a non-zero exit
status: 1 for a refused action, 2 for a bad setting or usage.
"""


def _walk(parser: argparse.ArgumentParser, words: list[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(" ".join(words), parser.format_help())]
    for name, sub in subs[0].choices.items():
        found.extend(_walk(sub, [*words, name]))
    return found


def render() -> str:
    os.environ["COLUMNS"] = "100"
    parts = [INTRO]
    for command, help_text in _walk(build_parser(), []):
        parts.append(f"## `panne {command}`\n\n```\n{help_text.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    (ROOT / "docs" / "cli.md").write_text(render(), encoding="utf-8")
