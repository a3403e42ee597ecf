"""Rebuild ``checkpoints/operator_embeddings.npz``: every known operator at every description length.

Run after changing the sentences in ``tgnas_jax/embeddings/descriptions.py``; the table test fails
until the shipped file matches the encoder again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tgnas_jax.embeddings import KNOWN_OPERATORS, LENGTHS, SHIPPED_TABLE, MiniLMEncoder, OperatorEmbeddings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=SHIPPED_TABLE, help="where to write the table (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    table = OperatorEmbeddings.build(MiniLMEncoder.load(), KNOWN_OPERATORS, LENGTHS)
    table.save(args.out)
    sentences = len({key.description for key in table.keys()})
    print(
        f"{len(table)} entries ({len(KNOWN_OPERATORS)} operators x {len(LENGTHS)} lengths, {sentences} distinct "
        f"sentences) -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
