"""Files a command writes for people (a backtest's CSV, a simulation's labels): checked before
any work, and written whole or not at all.

A run that fails or is interrupted must not leave half a file where a good one was, nor
spend minutes of work before finding the output cannot be written.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType


class OutputError(Exception):
    """The output cannot be written; the message names it and says why, in one line."""


class PendingFile:
    """Entering makes a temporary file beside ``path`` (the same directory, so the final
    rename is atomic): a path that is a directory, or a directory that is missing or
    read-only, is an :class:`OutputError` before any work. :meth:`commit` writes the chunks
    and renames the file over ``path``; leaving without it (an error, ^C) removes the
    temporary file and leaves an existing ``path`` as it was. ``name`` is how messages call
    the file (``--labels x.json``), the path by default."""

    def __init__(self, path: Path, name: str | None = None) -> None:
        self.path = path
        self.name = name or str(path)
        self.temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        self.fd: int | None = None

    def __enter__(self) -> PendingFile:
        if self.path.is_dir():
            raise OutputError(f"{self.name}: is a directory, not a file")
        try:  # 0o666 and the umask, as a plain open() would make the file
            self.fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise self._refusal(exc) from None
        return self

    def commit(self, chunks: Iterable[bytes]) -> None:
        assert self.fd is not None
        fd, self.fd = self.fd, None
        try:
            with os.fdopen(fd, "wb") as f:
                f.writelines(chunks)
            self.temp.replace(self.path)
        except OSError as exc:
            self.temp.unlink(missing_ok=True)
            raise self._refusal(exc) from None
        except BaseException:
            self.temp.unlink(missing_ok=True)
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.fd is not None:  # not committed
            os.close(self.fd)
            self.temp.unlink(missing_ok=True)

    def _refusal(self, exc: OSError) -> OutputError:
        return OutputError(f"{self.name}: cannot be written ({exc.strerror})")
