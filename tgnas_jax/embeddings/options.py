"""The ``--describe OP=TEXT`` option every command line that embeds operators shares."""

from __future__ import annotations

import argparse
from typing import Any


def parse_describe(text: str) -> tuple[str, str]:
    """``"OP=TEXT"`` -> ``(OP, TEXT)``, both stripped; argparse reports the ``ArgumentTypeError`` as a usage error."""
    op, sep, sentence = text.partition("=")
    if not sep or not op.strip() or not sentence.strip():
        raise argparse.ArgumentTypeError(f"expected OP=TEXT (an operator name, '=', its sentence), got {text!r}")
    return op.strip(), sentence.strip()


class _CollectDescriptions(argparse.Action):
    """Gathers every ``--describe`` into one dict, a new one each time (so no default is ever changed)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        op, sentence = values
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest) or {}), op: sentence})


def add_describe_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--describe OP=TEXT`` (repeatable) to ``parser``.

    ``args.describe`` is then ``{op: sentence}``, or ``None`` when none was given: pass it on as
    ``describe=args.describe`` (``Predictor.score`` / ``rank``, ``tgnas_jax.search``) or
    ``overrides=args.describe`` (``OperatorEmbeddings``).
    """
    parser.add_argument(
        "--describe",
        type=parse_describe,
        action=_CollectDescriptions,
        metavar="OP=TEXT",
        help="embed operator OP from the sentence TEXT instead of its table or derived description "
        "(repeatable; the last one given for an operator wins; default: none)",
    )
