import dataclasses

import jax
import numpy as np
import pytest

from tgnas_jax.batching import DenseCells
from tgnas_jax.embeddings.attributes import NUM_ATTRIBUTES, attribute_vectors
from tgnas_jax.graph import ArchGraph
from tgnas_jax.model import GCN, ModelConfig
from tgnas_jax.predictor import EmbeddingConfig, Predictor, operator_vectors
from tgnas_jax.predictor_files import CheckpointError, load_predictor
from tgnas_jax.prior import convolution_count
from tgnas_jax.spaces.nb201 import NB201Space

OPS = ("input", "conv3x3-bn-relu", "maxpool3x3", "output")
CHAIN = ArchGraph(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), ("input", "conv3x3-bn-relu", "output"))
BROKEN = ArchGraph(np.zeros((2, 2)), ("input", "output"))


def _predictor(members: int = 2, features: str = "minilm") -> Predictor:
    cfg = ModelConfig(hidden=16, layers=2)
    rng = np.random.default_rng(0)
    vectors = {op: rng.normal(size=8).astype(np.float32) for op in OPS}
    example = DenseCells(np.zeros((1, 3, 3), np.uint8), np.zeros((1, 3), np.int32), np.ones((1, 3), np.float32))
    params = tuple(
        GCN(cfg).init(jax.random.PRNGKey(seed), example, np.stack(list(vectors.values())))["params"]
        for seed in range(members)
    )
    return Predictor(cfg, EmbeddingConfig(dim=8, features=features), params, vectors)


def test_broken_cells_score_below_everything():
    scores = _predictor().score([CHAIN, BROKEN])
    assert np.isfinite(scores[0]) and scores[1] == -np.inf


def test_multi_cell_architectures_score_the_mean_of_their_cells():
    predictor = _predictor()
    other = ArchGraph(CHAIN.adjacency, ("input", "maxpool3x3", "output"))
    single = predictor.score([CHAIN, other])
    assert predictor.score([(CHAIN, other)])[0] == pytest.approx(single.mean(), abs=1e-6)


def test_a_spaces_cells_count_as_often_as_its_network_repeats_them(make_tiny_predictor):
    """DARTS's CIFAR-10 network has 18 normal cells and 2 reduction cells: the GCN score weighs them so."""
    from tgnas_jax.spaces.darts import PUBLISHED, DartsSpace

    space, arch = DartsSpace(), PUBLISHED["DARTS_V2"]
    predictor = make_tiny_predictor()
    normal, reduce = predictor.score([(g,) for g in space.to_graphs(arch)])
    assert space.cell_counts == (18, 2) and DartsSpace(setting="imagenet").cell_counts == (12, 2)
    assert predictor.score([arch], space, prior=False)[0] == pytest.approx(0.9 * normal + 0.1 * reduce, abs=1e-5)
    assert predictor.score([space.to_graphs(arch)])[0] == pytest.approx((normal + reduce) / 2, abs=1e-5)

    class ThreeCounts(DartsSpace):
        cell_counts = (1, 2, 3)

    # A genotype with a none edge, which the encoding cannot express, goes through its graphs.
    with_none = dataclasses.replace(arch, normal=(("none", 0), *arch.normal[1:]))
    normal, reduce = predictor.score([(g,) for g in space.to_graphs(with_none)])
    assert predictor.score([with_none], space, prior=False)[0] == pytest.approx(0.9 * normal + 0.1 * reduce, abs=1e-5)
    for scored in (arch, with_none):
        with pytest.raises(ValueError, match=r"cell_counts \(1, 2, 3\) weighs 3 cell types"):
            predictor.score([scored], ThreeCounts(), prior=False)


def test_dense_and_packed_scoring_agree():
    predictor = _predictor()
    ops = np.array([[0, 1, 3]], np.int32)
    dense = predictor.score_dense(CHAIN.adjacency[None], ops, np.ones((1, 3), np.float32), OPS)
    np.testing.assert_allclose(dense, predictor.score([CHAIN]), rtol=1e-5)


def test_save_and_load_round_trip_gives_identical_scores(tmp_path):
    predictor = _predictor()
    predictor.save(tmp_path / "ckpt", metadata={"note": "test"})
    restored = load_predictor(tmp_path / "ckpt")
    assert restored.metadata["note"] == "test"
    graphs = [CHAIN, ArchGraph(CHAIN.adjacency, ("input", "maxpool3x3", "output"))]
    np.testing.assert_array_equal(restored.score(graphs), predictor.score(graphs))


def test_loading_the_first_members_scores_as_that_ensemble(tmp_path):
    predictor = _predictor(members=3)
    predictor.save(tmp_path / "p")
    first = load_predictor(tmp_path / "p", members=2)
    assert len(first.members) == 2 and len(load_predictor(tmp_path / "p").members) == 3
    expected = Predictor(predictor.model_config, predictor.embedding, predictor.members[:2], predictor.op_vectors)
    np.testing.assert_allclose(first.score([CHAIN]), expected.score([CHAIN]), rtol=1e-6)
    for bad, message in [(4, "members=4, but the checkpoint's ensemble has 3"), (0, "positive integer, got 0")]:
        with pytest.raises(ValueError, match=message):
            load_predictor(tmp_path / "p", members=bad)
    with pytest.raises(ValueError, match="positive integer, got True"):
        load_predictor(tmp_path / "p", members=True)


def test_missing_and_corrupt_checkpoints_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="predictor.json is missing"):
        load_predictor(tmp_path / "nowhere")
    _predictor().save(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "op_vectors.npz").write_bytes(b"not a numpy file")
    with pytest.raises(CheckpointError, match="corrupt or incomplete"):
        load_predictor(tmp_path / "ckpt")
    _predictor().save(tmp_path / "ckpt2")
    (tmp_path / "ckpt2" / "predictor.json").write_text("{ truncated")
    with pytest.raises(CheckpointError, match="corrupt or incomplete"):
        load_predictor(tmp_path / "ckpt2")


def test_onehot_predictor_refuses_unseen_operators():
    unseen = ArchGraph(CHAIN.adjacency, ("input", "sep_conv_5x5", "output"))
    with pytest.raises(ValueError, match="unseen in training.*sep_conv_5x5"):
        _predictor(features="onehot").score([unseen])


def test_scoring_a_space_needs_the_space_for_strings():
    """This predictor has no vector for most NB201 ops, so the space's jitted scoring cannot be built:
    a cell that uses none of them is still scored, through its graph."""
    predictor = _predictor()
    with pytest.raises(TypeError, match="space="):
        predictor.score(["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
    assert predictor.score(["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"], NB201Space())[0] == -np.inf


def test_cost_blend_is_batch_independent_and_favours_larger_cells():
    rng = np.random.default_rng(0)
    # Every NB201 op has a vector, ``none`` too: a space is scored through its search encoding's vocabulary.
    ops = ("input", "output", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    vectors = {op: rng.normal(size=8).astype(np.float32) for op in ops}
    base = _predictor()
    blended = Predictor(base.model_config, base.embedding, base.members, vectors, cost_weight=100.0)
    space = NB201Space()
    archs = space.samples(20, seed=1)
    together = blended.score(archs, space)
    alone = np.concatenate([blended.score([a], space) for a in archs[:3]])
    np.testing.assert_allclose(together[:3], alone, rtol=1e-5)
    # With a dominant size prior the ranking follows FLOPs.
    flops = np.array([space.num_flops(a) for a in archs])
    live = np.isfinite(together)
    assert np.argmax(np.where(live, together, -np.inf)) == np.argmax(np.where(live, flops, -1))


def test_score_takes_a_space_name_and_single_architectures(make_tiny_predictor):
    predictor = make_tiny_predictor(members=1, cost_weight=0.0)
    cells = [
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ]
    by_name = predictor.score(cells, "nb201")
    np.testing.assert_array_equal(by_name, predictor.score(cells, NB201Space()))
    one = predictor.score(cells[0], "nb201")
    assert isinstance(one, float) and one == pytest.approx(by_name[0])
    assert isinstance(predictor.score(CHAIN), float)
    with pytest.raises(ValueError, match="unknown search space"):
        predictor.score(cells, "nb999")


def test_rank_returns_the_best_first_with_scores(make_tiny_predictor):
    predictor = make_tiny_predictor(members=1, cost_weight=0.0)
    cells = list(NB201Space().enumerate())[:50]
    top = predictor.rank(cells, "nb201", k=5)
    scores = predictor.score(cells, "nb201")
    assert [s for _, s in top] == sorted(scores, reverse=True)[:5]
    assert top[0][0] == cells[int(np.argmax(scores))]


def test_repr_is_short():
    text = repr(_predictor())
    assert text.startswith("Predictor(members=2, hidden=16") and len(text) < 200


def test_spaces_refuse_objects_of_other_spaces(make_tiny_predictor):
    """An ArchGraph or an NB201 tuple given to NB101 (and the like) is refused, not silently scored."""
    from tgnas_jax.spaces import DartsSpace, NB101Space, SpaceError

    predictor = make_tiny_predictor()
    graph = ArchGraph(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), ("input", "sep_conv_3x3", "output"))
    with pytest.raises(SpaceError, match="NB101Arch or an NB101 string, got ArchGraph"):
        predictor.score([graph], NB101Space())
    with pytest.raises(SpaceError, match="a DARTS arch is a Genotype"):
        predictor.score([("nor_conv_3x3",) * 6], DartsSpace())
    with pytest.raises(SpaceError, match="NB201 arch is a tuple"):
        predictor.score([graph], "nb201")


def test_darts_repository_namedtuple_genotypes_are_accepted_and_checked(make_tiny_predictor):
    """Users paste genotypes from DARTS's own ``genotypes.py``: a namedtuple with the same fields."""
    from collections import namedtuple

    from tgnas_jax.spaces import DartsSpace, SpaceError
    from tgnas_jax.spaces.darts import PUBLISHED

    DartsGenotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
    ours = PUBLISHED["DARTS_V2"]
    theirs = DartsGenotype(list(ours.normal), list(ours.normal_concat), list(ours.reduce), list(ours.reduce_concat))
    predictor, space = make_tiny_predictor(), DartsSpace()
    assert predictor.score(theirs, space) == predictor.score(ours, space)
    broken = theirs._replace(normal=theirs.normal[:-1])
    with pytest.raises(SpaceError):
        predictor.score(broken, space)


WAVELET = {"nor_conv_3x3": "A learned wavelet filter"}


def test_a_description_holds_for_its_call_only(hash_embedded):
    predictor, encoder = hash_embedded
    space = NB201Space()
    archs = space.samples(16, seed=1)
    plain = predictor.score(archs, space)
    own_vector = predictor.op_vectors["nor_conv_3x3"].copy()
    described = predictor.score(archs, space, describe=WAVELET)
    assert encoder.encoded == ["A learned wavelet filter"] and not np.allclose(described, plain)
    # Neither the operator's vector nor the size prior's standardisation keeps the override.
    np.testing.assert_array_equal(predictor.op_vectors["nor_conv_3x3"], own_vector)
    np.testing.assert_array_equal(predictor.score(archs, space), plain)
    again = predictor.score(archs, space, describe={"Nor-Conv-3x3": "A learned wavelet filter"})
    np.testing.assert_array_equal(again, described)
    assert encoder.encoded == ["A learned wavelet filter"]  # embedded once, whatever the spelling
    single = predictor.score(space.format(archs[0]), space, describe=WAVELET)
    assert single == pytest.approx(float(described[0]), abs=1e-5)  # another batch shape: float32 rounding


def test_an_unseen_operator_described_first_keeps_its_own_sentence_apart(hash_embedded):
    predictor, encoder = hash_embedded
    cell = ArchGraph(CHAIN.adjacency, ("input", "conv_3x3_stride_2", "output"))
    mine = {"conv_3x3_stride_2": "A strided convolution"}
    described = predictor.score([cell], describe=mine)
    assert "conv_3x3_stride_2" not in predictor.op_vectors
    derived = predictor.score([cell])
    assert encoder.encoded == ["A strided convolution", "Convolution 3x3, stride 2"]
    assert derived[0] != described[0]
    np.testing.assert_array_equal(predictor.score([cell], describe=mine), described)


def test_describing_an_operator_by_its_own_sentence_changes_nothing(hash_embedded):
    predictor, encoder = hash_embedded
    same = predictor.score([CHAIN], describe={"conv3x3-bn-relu": "Convolution 3x3"})
    np.testing.assert_array_equal(same, predictor.score([CHAIN]))
    assert encoder.encoded == []


def test_rank_takes_descriptions(hash_embedded):
    predictor, _ = hash_embedded
    archs = NB201Space().samples(12, seed=2)
    scores = predictor.score(archs, "nb201", describe=WAVELET)
    ranked = predictor.rank(archs, "nb201", k=3, describe=WAVELET)
    assert [score for _, score in ranked] == pytest.approx(sorted(scores.tolist(), reverse=True)[:3])


@pytest.mark.parametrize(
    ("describe", "error", "message"),
    [
        (["conv3x3-bn-relu=Convolution"], TypeError, "must map operator names to sentences"),
        ({"conv3x3-bn-relu": 3}, TypeError, "the description of 'conv3x3-bn-relu' must be a string, got 3"),
        ({"conv3x3-bn-relu": " "}, ValueError, "the description of 'conv3x3-bn-relu' is empty"),
        ({"": "Convolution"}, ValueError, "operator name must be non-empty"),
    ],
)
def test_bad_descriptions_are_named(describe, error, message):
    with pytest.raises(error, match=message):
        _predictor().score([CHAIN], describe=describe)


def test_onehot_predictor_refuses_descriptions():
    with pytest.raises(ValueError, match=r"one-hot features .*'conv3x3-bn-relu'"):
        _predictor(features="onehot").score([CHAIN], describe={"conv3x3-bn-relu": "Convolution 3x3"})


def test_prior_false_gives_the_gcn_alone(make_tiny_predictor):
    """Scores of a space blend in the size prior unless asked not to; raw graphs never get it."""
    import dataclasses

    predictor, space = make_tiny_predictor(cost_weight=0.5), NB201Space()
    cells = [space.format(a) for a in space.samples(20, seed=2)]
    gcn_alone = dataclasses.replace(predictor, cost_weight=0.0).score(cells, space)
    np.testing.assert_allclose(predictor.score(cells, space, prior=False), gcn_alone, rtol=1e-6)
    assert not np.allclose(predictor.score(cells, space), gcn_alone)
    best = predictor.rank(cells, space, k=1, prior=False)[0]
    assert best[1] == pytest.approx(float(gcn_alone.max()), rel=1e-6)


def test_a_space_is_scored_by_one_compiled_program(make_tiny_predictor):
    """The size prior's reference sample, the GCN alone and the blend share one program at one shape;
    the GCN-alone scores are those of the graphs, and the blend is the prior applied to them."""
    predictor, space = make_tiny_predictor(cost_weight=0.5), NB201Space()
    rows = predictor._encoded_scoring(space, None).rows
    archs = space.samples(rows + rows // 4, seed=3)  # more than one call's rows: a padded last call
    assert len(set(archs)) > rows
    blended, alone = predictor.score(archs, space), predictor.score(archs[:5], space, prior=False)
    predictor.score(archs[:1], space)
    encoded = predictor._encoded_scoring(space, None)
    assert encoded.program._cache_size() == 1
    graphs = predictor.score_graphs([space.to_graphs(a)[0] for a in archs])
    np.testing.assert_allclose(alone, graphs[:5], rtol=1e-5, atol=1e-6)
    blend = predictor.cost_blend(space)
    convs = np.array([convolution_count(space.to_graphs(a)) for a in archs])
    expected = blend.apply(graphs, np.log([space.num_flops(a) for a in archs]), convs)
    np.testing.assert_allclose(blended, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.usefixtures("hash_embedded")
def test_attributes_extend_each_operator_vector_and_reach_unseen_operators():
    with_attributes = EmbeddingConfig(attributes=True)
    assert with_attributes.width(5) == 384 + NUM_ATTRIBUTES and EmbeddingConfig().width(5) == 384
    rows = operator_vectors(["sep_conv_5x5", "input"], with_attributes)
    plain = operator_vectors(["sep_conv_5x5", "input"], EmbeddingConfig())
    np.testing.assert_array_equal(rows[:, :384], plain)
    np.testing.assert_array_equal(rows[:, 384:], attribute_vectors(["sep_conv_5x5", "input"]))
    # A description replaces the sentence, not what the name says.
    described = operator_vectors(["sep_conv_5x5"], with_attributes, describe={"sep_conv_5x5": "A wavelet"})
    np.testing.assert_array_equal(described[:, 384:], rows[:1, 384:])
    assert not np.array_equal(described[:, :384], rows[:1, :384])


@pytest.mark.usefixtures("hash_embedded")  # unseen operators embedded by the hash stand-in
def test_an_attribute_predictor_saves_loads_and_scores_unseen_operators(tmp_path):
    cfg, emb = ModelConfig(hidden=8, layers=1), EmbeddingConfig(attributes=True)
    known = ("input", "output", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
    vectors = dict(zip(known, operator_vectors(known, emb), strict=True))
    example = DenseCells(np.zeros((1, 2, 2), np.uint8), np.zeros((1, 2), np.int32), np.ones((1, 2), np.float32))
    params = (GCN(cfg).init(jax.random.PRNGKey(0), example, np.stack(list(vectors.values())))["params"],)
    Predictor(cfg, emb, params, vectors).save(tmp_path / "ckpt")
    restored = load_predictor(tmp_path / "ckpt")
    assert restored.embedding == emb and "+attributes" in repr(restored)
    unseen = ArchGraph(CHAIN.adjacency, ("input", "sep_conv_5x5", "output"))
    assert np.isfinite(restored.score([unseen, CHAIN])).all()
    assert restored.op_vectors["sep_conv_5x5"].shape == (384 + NUM_ATTRIBUTES,)


def test_onehot_codes_take_attributes_too():
    emb = EmbeddingConfig(features="onehot", attributes=True)
    rows = operator_vectors(["input", "sep_conv_3x3"], emb)
    assert emb.width(2) == rows.shape[1] == 2 + NUM_ATTRIBUTES
    assert emb.blocks(2) == [2, NUM_ATTRIBUTES] and EmbeddingConfig().blocks(2) == [384]
    np.testing.assert_array_equal(rows[:, :2], np.eye(2))
    np.testing.assert_array_equal(rows[:, 2:], attribute_vectors(["input", "sep_conv_3x3"]))
