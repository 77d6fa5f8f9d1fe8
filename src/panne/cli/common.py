"""What every command shares: the settings of a command line, a node, the one-line error."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from panne.config import Settings, load


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return load(
        Path(args.config) if getattr(args, "config", None) else None,
        database_url=getattr(args, "database", None),
        **extra,
    )


def node_from(args: argparse.Namespace) -> Any:
    from panne.node import Node

    node = Node(settings_from(args))
    node.prepare_database()
    node.reload_catalog()
    return node
