"""A DARTS search, side by side with the published genotypes, ranked by the predictor.

Runs the hybrid search (pruning + differential evolution) on the DARTS space and scores the
published DARTS-V1, DARTS-V2, PC-DARTS (CIFAR and ImageNet searches) and P-DARTS genotypes with
the same predictor. The search and the scores are those of the CIFAR-10 network (``DartsSpace()``:
its FLOPs in the size prior, its 18 normal and 2 reduction cells weighing the cell scores); the
sizes reported are those of the ImageNet mobile network (C=48, 14 cells), as paper Table 5 reports
them (TG-NAS: 5.6 M parameters). DARTS has no benchmark table, so no accuracies.

    python benchmarks/search_darts.py [--predictor PATH] [--seed 0] [--population N] [--generations N]
        [--out benchmarks/results/search_darts]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import jax

from tgnas_jax.predictor_files import load_predictor
from tgnas_jax.search import DEFAULT_GENERATIONS, DEFAULT_POPULATION, SearchResult, search
from tgnas_jax.spaces import DartsSpace
from tgnas_jax.spaces.darts import PUBLISHED, format_genotype, network_size

SETTING = "imagenet"
PAPER_PARAMS_M = 5.6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--predictor", type=Path, default=None, help="checkpoint (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--population", type=int, default=DEFAULT_POPULATION)
    parser.add_argument("--generations", type=int, default=DEFAULT_GENERATIONS)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/search_darts"),
        help="output path without suffix: writes .md and .json",
    )
    args = parser.parse_args(argv)
    predictor = load_predictor(args.predictor)
    space = DartsSpace()
    result = search(
        space, predictor, key=jax.random.PRNGKey(args.seed), population=args.population, generations=args.generations
    )
    entries = {f"found ({name})": part.arch for name, part in result.parts.items()}
    entries.update(PUBLISHED)
    scores = predictor.score(list(entries.values()), space)
    rows = []
    for (name, genotype), score in zip(entries.items(), scores, strict=True):
        params, flops = network_size(genotype, SETTING)
        rows.append(
            {
                "name": name,
                "score": float(score),
                "params_m": params / 1e6,
                "flops_m": flops / 1e6,
                "genotype": format_genotype(genotype),
            }
        )
    rows.sort(key=lambda row: -row["score"])
    lines = [
        "# DARTS search vs published genotypes, ranked by the predictor",
        "",
        f"Hybrid search, seed {args.seed}, population {args.population}, {args.generations} generations: "
        f"{result.seconds:.1f} s, {result.evaluations:,} predictor queries, kept the {best_part(result)} result; "
        f"{platform.machine()}, {os.cpu_count()} CPU cores. Searched and scored on the CIFAR-10 network "
        "(its FLOPs in the size prior, its 18 normal and 2 reduction cells weighing the cell scores). "
        f"Params / FLOPs (multiply-adds): ImageNet mobile network (paper Table 5: TG-NAS {PAPER_PARAMS_M} M params).",
        "",
        "| rank | genotype | predicted score | params (M) | FLOPs (M) |",
        "|---|---|---|---|---|",
        *(
            f"| {i} | {row['name']} | {row['score']:.4f} | {row['params_m']:.2f} | {row['flops_m']:.0f} |"
            for i, row in enumerate(rows, start=1)
        ),
        "",
        *(f"- **{row['name']}**: `{row['genotype']}`" for row in rows),
    ]
    report = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(report)
    payload = {
        "search": result.to_dict(),
        "search_network": space.network,  # what search.params / flops count; the ranking's sizes: SETTING
        "ranking": rows,
        "setting": SETTING,
        "paper_params_m": PAPER_PARAMS_M,
    }
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    print(report)
    return 0


def best_part(result: SearchResult) -> str:
    """Which half of the hybrid the search kept."""
    return max(result.parts.values(), key=lambda part: part.score).method


if __name__ == "__main__":
    sys.exit(main())
