"""What the command lines share: plain-text help that shows defaults, ``--quiet`` / ``--verbose`` logging,
and the check that an output path can be written, made before any work is done."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

#: The package's logger: progress lines at INFO, details at DEBUG, all to stderr.
LOGGER = logging.getLogger("tgnas_jax")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description and epilog as written (their example lines) and shows each option's default.

    An option whose help already says its default, or whose default is ``None`` (its help then
    says what that means), is left as it is; flags (no value) show none.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS) or action.nargs == 0:
            return text
        return f"{text} (default: %(default)s)"


def int_at_least(least: int, most: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer ``>= least`` (and ``<= most``, when given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if most is not None and not least <= value <= most:
            raise argparse.ArgumentTypeError(f"must be in [{least}, {most:,}], got {value}")
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    return parse


def add_predictor_options(parser: argparse.ArgumentParser) -> None:
    """``--predictor PATH`` and ``--members K``, what :func:`tgnas_jax.load_predictor` takes."""
    parser.add_argument(
        "--predictor",
        type=Path,
        default=None,
        metavar="PATH_OR_NAME",
        help="predictor checkpoint folder, or a shipped one by name: tgnas-nb101 (an ensemble of 4) or "
        "tgnas-nb101-distilled (one network, 4x less compute) (default: tgnas-nb101)",
    )
    parser.add_argument(
        "--members",
        type=int_at_least(1),
        default=None,
        metavar="K",
        help="score with the ensemble's first K members only: faster, in proportion (default: all)",
    )


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """``-q`` / ``--quiet`` and ``-v`` / ``--verbose``, one or the other."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="show only warnings and errors on stderr")
    group.add_argument("-v", "--verbose", action="store_true", help="also show details on stderr")


def configure_logging(args: argparse.Namespace) -> None:
    """Send the package's log to the current stderr at the level ``--quiet`` / ``--verbose`` ask for.

    Replaces the handler of a previous call, so ``main()`` can run many times in one process.
    """
    for handler in [h for h in LOGGER.handlers if isinstance(h, _StderrHandler)]:
        LOGGER.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO)
    LOGGER.propagate = False  # a root handler someone configured would print every line twice


def shows_progress() -> bool:
    """Whether to draw progress bars: the package's log shows INFO, or nobody set it up (library use keeps its bars)."""
    return LOGGER.level == logging.NOTSET or LOGGER.isEnabledFor(logging.INFO)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record comes (tests swap it), as ``logging.lastResort`` does."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """``StreamHandler.__init__`` sets a stream; this handler always looks ``sys.stderr`` up."""


def unwritable(path: Path) -> str | None:
    """Why a file cannot be written to ``path``, or ``None``: checked first, so no work is lost to it."""
    try:
        if path.is_dir():
            return "it is a directory"
        folder = path.parent
        while not folder.exists():  # folders the command will create
            folder = folder.parent
        if not folder.is_dir():
            return f"{str(folder)!r} is not a directory"
        if path.exists() and not os.access(path, os.W_OK):
            return "it is not writable"
        if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
            return f"folder {str(folder)!r} is not writable"
        # Permissions do not tell everything (root, read-only or virtual file systems): try a
        # file in the nearest existing folder, and leave nothing behind.
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as err:
        return err.strerror or str(err)
    return None


def space_name(text: str) -> str:
    """``--space``: a registered space's name or a ``.json`` / ``.toml`` spec file (read later, errors then)."""
    from tgnas_jax.spaces import SPACES, SPEC_SUFFIXES

    if text in SPACES or text.lower().endswith(SPEC_SUFFIXES):
        return text
    raise argparse.ArgumentTypeError(
        f"invalid choice: {text!r} (choose from {', '.join(sorted(SPACES))}, or give a .json / .toml spec file)"
    )


def finish(code: int) -> NoReturn:
    """End a short command with ``code``, skipping the interpreter's teardown.

    Python's finalisation then destroys XLA's client, compiled programs and thread pools: 0.2-0.4 s
    of a 2-3 s warm search (``benchmarks/cli_startup.py``), after everything was written. Exit
    handlers (``jax.distributed``'s shutdown, logging's flush) still run, and the streams are flushed.
    Not for commands that leave work in the background (training's asynchronous checkpoints).
    """
    atexit._run_exitfuncs()  # CPython's own call at exit; os._exit below would skip it
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code)
