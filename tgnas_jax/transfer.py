"""The transfer benchmark: a predictor against the free baselines, on spaces it never trained on.

Each :class:`TransferSet` is one benchmark's architectures with their true accuracies, the
data-free baselines a NAS user has without any predictor (parameters, FLOPs, depth, convolution
counts) and the published zero-cost proxies its data files carry. :func:`run` scores a set with
a predictor (the ensemble, and every member alone for the seed spread) and reports each figure of
:mod:`tgnas_jax.metrics` with a bootstrap interval, and the predictor's paired difference to each
baseline.

Sets: ``nb201`` (zero-shot test: a predictor trained on NB201 labels is refused), ``nb301``
(DARTS space; a transfer-validation space), ``nb101-holdout`` (the NB101 cells the predictor held
out: its random validation split and, when it has one, its operator-transfer split).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tgnas_jax import metrics
from tgnas_jax.data import NB201_DATASETS, load_nb101, load_nb201, load_nb301, load_zc_proxies
from tgnas_jax.graph import INPUT, OUTPUT, ArchGraph, topological_order
from tgnas_jax.predictor import Predictor
from tgnas_jax.prior import CostBlend, convolution_count
from tgnas_jax.spaces.base import SearchSpace
from tgnas_jax.spaces.darts import DartsSpace
from tgnas_jax.spaces.nb201 import NB201Space

SETS = ("nb201", "nb301", "nb101-holdout")
#: The predictor's rows: the shipped score (GCN blended with the size prior) and the GCN alone.
PREDICTOR_ROWS = ("tg-nas", "gcn")


@dataclass(frozen=True)
class Subset:
    """Scorers known on only some rows of a set (published proxies cover a subset)."""

    rows: np.ndarray
    scorers: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class TransferSet:
    """One benchmark: its architectures, true accuracy per dataset and the baselines' scores."""

    name: str
    #: ``space.parse``-able texts, or graphs when ``space`` is None.
    archs: Sequence[Any]
    space: SearchSpace | None
    truth: Mapping[str, np.ndarray]
    baselines: Mapping[str, np.ndarray]
    #: Per dataset: the published proxies on the rows they cover.
    proxies: Mapping[str, Subset] = field(default_factory=dict)
    #: log FLOPs of each architecture, for the size prior where the space does not count them.
    log_flops: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.archs)

    def all_log_flops(self) -> np.ndarray:
        """log FLOPs of every architecture: the stored ones, else as the space counts them."""
        if self.log_flops is not None:
            return self.log_flops
        return np.log([self.space.num_flops(self.space.parse(a)) for a in self.archs])

    def all_convolutions(self) -> np.ndarray:
        """Convolution nodes of every architecture's graphs, as the size prior counts them."""
        if self.space is not None:
            cells = [self.space.to_graphs(self.space.parse(a)) for a in self.archs]
        else:
            cells = [a if isinstance(a, tuple) else (a,) for a in self.archs]
        return np.array([convolution_count(c) for c in cells], np.float64)


# ----------------------------------------------------------------------------- baselines


def depth(graph: ArchGraph) -> int:
    """Operators on the longest input -> output path."""
    longest = [0] * graph.num_nodes
    for node in topological_order(graph.adjacency):
        own = 0 if graph.ops[node] in (INPUT, OUTPUT) else 1
        preds = np.flatnonzero(graph.adjacency[:, node])
        longest[node] = own + max((longest[p] for p in preds), default=0)
    return longest[graph.ops.index(OUTPUT)]


def count_ops(graph: ArchGraph, match: Callable[[str], bool]) -> int:
    return sum(1 for op in graph.ops if match(op))


def _graph_baselines(graphs: Sequence[ArchGraph], kinds: Mapping[str, Callable[[str], bool]]) -> dict[str, np.ndarray]:
    out = {"depth": np.array([depth(g) for g in graphs], np.float64)}
    for name, match in kinds.items():
        out[name] = np.array([count_ops(g, match) for g in graphs], np.float64)
    return out


# ----------------------------------------------------------------------------- sets


def nb201_set(data_dir: str | None = None, encoding: str = "pruned") -> TransferSet:
    """All 15,625 NB201 cells, read with ``encoding``; baselines counted on each cell's live (pruned) graph."""
    space = NB201Space(encoding=encoding)  # a bad encoding is named before any data is read
    table = load_nb201(data_dir)
    archs = [space.parse(s) for s in table.arch_strings]
    graphs = [NB201Space().to_graphs(a)[0] for a in archs]
    baselines = {
        "params": np.array([space.num_params(a) for a in archs], np.float64),
        "flops": np.array([space.num_flops(a) for a in archs], np.float64),
        **_graph_baselines(
            graphs,
            {
                "convs": lambda op: "conv" in op,
                "conv3x3": lambda op: op == "nor_conv_3x3",
                "conv1x1": lambda op: op == "nor_conv_1x1",
            },
        ),
        # NASWOT on CIFAR-10 for every cell; cells that pass no data (NaN) rank last.
        "nwot": np.where(np.isfinite(table.naswot), table.naswot, -np.inf),
    }
    proxies = {}
    for dataset in ("cifar10", "imagenet16"):
        zc = load_zc_proxies(data_dir, dataset)
        rows = np.array([table.index_of(s) for s in zc.arch_strings])
        proxies[dataset] = Subset(rows=rows, scorers=dict(zc.proxies))
    truth = {key: getattr(table, key) for key in NB201_DATASETS}
    return TransferSet("nb201", table.arch_strings.tolist(), space, truth, baselines, proxies)


def nb301_set(data_dir: str | None = None, encoding: str = "pruned") -> TransferSet:
    """The 725 NAS-Bench-Suite-Zero DARTS architectures, read with ``encoding``; sizes are DARTS's
    CIFAR-10 network, baselines counted on the pruned cell graphs."""
    space = DartsSpace(encoding=encoding)  # a bad encoding is named before any data is read
    table = load_nb301(data_dir)
    archs = [space.parse(s) for s in table.genotypes]
    both = [DartsSpace().to_graphs(a) for a in archs]
    normal = _graph_baselines(
        [n for n, _ in both],
        {"convs": lambda op: "conv" in op, "sep_convs": lambda op: "sep" in op, "dil_convs": lambda op: "dil" in op},
    )
    reduce = _graph_baselines([r for _, r in both], {"convs": lambda op: "conv" in op})
    baselines = {
        "params": np.array([space.num_params(a) for a in archs], np.float64),
        "flops": np.array([space.num_flops(a) for a in archs], np.float64),
        **{f"normal_{k}": v for k, v in normal.items()},
        "convs": normal["convs"] + reduce["convs"],
    }
    proxies = {"cifar10": Subset(rows=np.arange(len(archs)), scorers=dict(table.proxies))}
    return TransferSet("nb301", table.genotypes.tolist(), space, {"cifar10": table.val_accuracy}, baselines, proxies)


def nb101_holdout_sets(predictor: Predictor, data_dir: str | None = None) -> list[TransferSet]:
    """The NB101 cells ``predictor`` held out, rebuilt from the split recorded in its header."""
    from tgnas_jax.train import TrainConfig, split_nb101

    recorded = predictor.metadata.get("train_config")
    if not recorded:
        raise ValueError("the predictor records no training config, so its NB101 hold-out is unknown")
    config = TrainConfig(
        **{k: recorded[k] for k in ("val_size", "min_accuracy", "transfer_op", "split_seed", "batch_size")}
    )
    table = load_nb101(data_dir)
    split = split_nb101(table, config)
    sets = []
    for name, rows in (("nb101-val", split.val), (f"nb101-without-{config.transfer_op}", split.transfer)):
        if not len(rows):
            continue
        graphs = [table.graph(int(i)) for i in rows]
        baselines = {
            "flops": table.flops[rows].astype(np.float64),
            **_graph_baselines(
                graphs,
                {
                    "convs": lambda op: op.startswith("conv"),
                    "conv3x3": lambda op: op == "conv3x3-bn-relu",
                    "conv1x1": lambda op: op == "conv1x1-bn-relu",
                },
            ),
        }
        truth = {"cifar10": table.test_accuracy[rows] * 100}
        sets.append(TransferSet(name, graphs, None, truth, baselines, log_flops=np.log(table.flops[rows])))
    return sets


def load_sets(
    names: Sequence[str], predictor: Predictor, data_dir: str | None = None, encoding: str = "pruned"
) -> list[TransferSet]:
    """The named benchmark sets (``all`` for every one), refusing NB201 for a predictor that saw it.

    ``encoding`` is how NB201 and DARTS cells become graphs (their spaces' ``encoding``).
    """
    if "all" in names:
        names = SETS
    sets: list[TransferSet] = []
    for name in names:
        if name == "nb201":
            if predictor.metadata.get("train_config", {}).get("mix_nb201"):
                raise ValueError(
                    "this predictor was trained on NB201 labels (mix_nb201): NB201 is no zero-shot test for it"
                )
            sets.append(nb201_set(data_dir, encoding))
        elif name == "nb301":
            sets.append(nb301_set(data_dir, encoding))
        elif name == "nb101-holdout":
            sets.extend(nb101_holdout_sets(predictor, data_dir))
        else:
            raise ValueError(f"unknown benchmark set {name!r}; choose from {[*SETS, 'all']}")
    return sets


# ----------------------------------------------------------------------------- scoring


def predictor_scores(predictor: Predictor, tset: TransferSet) -> dict[str, np.ndarray]:
    """The ``tg-nas`` (size prior on) and ``gcn`` (prior off) scores of every architecture."""
    gcn = predictor.score(tset.archs, tset.space, prior=False)
    if tset.space is not None:
        blended = predictor.score(tset.archs, tset.space)
    elif tset.log_flops is not None and (predictor.cost_weight or predictor.conv_weight):
        # Standardised on the set itself: these graphs have no space to draw a reference sample from.
        convs = tset.all_convolutions()
        blend = CostBlend.fit(predictor.cost_weight, predictor.conv_weight, gcn, tset.log_flops, convs)
        blended = blend.apply(gcn, tset.log_flops, convs)
    else:
        blended = gcn
    return {"tg-nas": blended, "gcn": gcn}


def standardise(x: np.ndarray) -> np.ndarray:
    """``x`` as z-scores over its finite entries (``-inf`` stays ``-inf``)."""
    finite = np.isfinite(x)
    return (x - x[finite].mean()) / x[finite].std()


def member_predictors(predictor: Predictor) -> list[Predictor]:
    """Each ensemble member as a predictor of its own (same features and prior): the seed spread."""
    return [dataclasses.replace(predictor, members=(m,)) for m in predictor.members]


def run(predictor: Predictor, tset: TransferSet, *, resamples: int = 200, seed: int = 0) -> dict[str, Any]:
    """Every figure of ``tset`` for the predictor (with its members' spread) and every baseline."""
    scores = predictor_scores(predictor, tset)
    members = [predictor_scores(m, tset) for m in member_predictors(predictor)] if len(predictor.members) > 1 else []
    report: dict[str, Any] = {"set": tset.name, "size": len(tset), "datasets": {}, "_scores": scores}
    for dataset, truth in tset.truth.items():
        table = metrics.all_metrics(len(tset))
        scorers = {**scores, **tset.baselines}
        entry = {
            "all": metrics.bootstrap(scorers, truth, table, reference="tg-nas", resamples=resamples, seed=seed),
            "members": _member_spread(members, truth, table),
        }
        if dataset in tset.proxies:
            subset = tset.proxies[dataset]
            rows = subset.rows
            sub_scorers = {**{k: v[rows] for k, v in scores.items()}, **subset.scorers}
            entry["proxies"] = {
                "size": len(rows),
                "figures": metrics.bootstrap(
                    sub_scorers,
                    truth[rows],
                    {"spearman": metrics.spearman, "kendall": metrics.kendall},
                    reference="tg-nas",
                    resamples=resamples,
                    seed=seed,
                ),
                "correlation": _correlation_matrix({**sub_scorers, "accuracy": truth[rows]}),
            }
        report["datasets"][dataset] = entry
    return report


def _member_spread(
    members: list[dict[str, np.ndarray]], truth: np.ndarray, table: Mapping[str, metrics.Metric]
) -> dict[str, dict[str, dict[str, float]]]:
    """Mean and standard deviation over ensemble members of each figure (no members: empty)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in PREDICTOR_ROWS if members else ():
        out[row] = {}
        for name, f in table.items():
            values = np.array([f(m[row], truth) for m in members])
            out[row][name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)), "n": len(values)}
    return out


def _correlation_matrix(scorers: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Spearman rho between every pair of scorers (paper Fig. 3)."""
    names = list(scorers)
    return {a: {b: metrics.spearman(scorers[a], scorers[b]) for b in names} for a in names}
