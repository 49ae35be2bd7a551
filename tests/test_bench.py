"""The benchmark's own pieces run (PyTorch parts only where it is installed: it is a bench-only extra)."""

import numpy as np
import pytest

from bench.run import ARCHS, Ours, flops_per_sample


@pytest.mark.parametrize("arch", list(ARCHS))
def test_scratchnet_engine_steps(arch):
    engine = Ours(arch)
    x = np.random.default_rng(0).random((300, 1, 28, 28), dtype=np.float32)
    y = np.arange(300) % 10
    before = engine.model.parameters()["0.W" if arch != "mlp" else "1.W"].copy()
    engine.epoch(x, y, 128, 2)
    assert not np.array_equal(before, engine.model.parameters()["0.W" if arch != "mlp" else "1.W"])
    assert engine.infer(x, 100).shape == (300, 10)


def test_flop_count_of_the_mlp():
    fwd, train = flops_per_sample(Ours("mlp").model)
    assert fwd == 2 * (784 * 128 + 128 * 64 + 64 * 10)
    assert train == 2 * 784 * 128 * 2 + 2 * (128 * 64 + 64 * 10) * 3


def test_torch_twin_matches_forward():
    torch = pytest.importorskip("torch")
    from bench.run import Torch

    ours, theirs = Ours("small_cnn"), Torch("small_cnn")
    x = np.random.default_rng(1).random((4, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(ours.model.forward(x), theirs.model(torch.from_numpy(x)).numpy(), atol=1e-4)


def test_conv_algorithm_bench_times_and_measures_every_algorithm():
    from bench import conv_algorithms

    times = conv_algorithms.timings(8, 8, 6, rounds=1, threads=2)
    assert list(times) == conv_algorithms.ALGORITHMS and all(f > 0 and b > 0 for f, b in times.values())
    errors = conv_algorithms.error(8, 8, 6)
    assert list(errors) == conv_algorithms.ALGORITHMS and all(0 < e < 1e-4 for e in errors.values())


def test_cnn_step_profile_times_every_layer_and_the_gemms():
    from bench import cnn_step

    kinds, fwd, bwd = cnn_step.profile("small_cnn", steps=1, seed=0)
    assert kinds[:3] == ["conv2d", "maxpool2d", "relu"]  # the fast plan's order: pool before ReLU
    assert len(fwd) == len(bwd) == len(kinds) and (fwd > 0).all() and bwd[0] > 0
    assert cnn_step.gemms_alone("small_cnn", steps=1) > 0
