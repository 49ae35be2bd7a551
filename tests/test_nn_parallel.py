"""nn.DataParallel: sharded steps give the whole batch's gradient, whatever the thread count."""

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from scratchnet import nn
from scratchnet.nn import parallel
from scratchnet.training.loop import fit
from tests.support.data import RECIPE, SMALL_CNN, random_problem

NO_DROPOUT = [spec for spec in SMALL_CNN if spec["type"] != "dropout"]


def make(specs=NO_DROPOUT, dtype=np.float64, seed=0):
    return nn.build(specs, (1, 8, 8), 4, np.random.default_rng(seed), dtype=dtype)


def batch(n=10, dtype=np.float64):
    data = random_problem(n=n)
    return data["x"][:, None].astype(dtype), data["labels"]


def reference(model, x, y, clip_dz=None):
    logits = model.forward(x, train=True)
    loss, d = nn.softmax_cross_entropy(logits, y)
    model.backward(d, clip_dz=clip_dz)
    return loss, logits, {k: v.copy() for k, v in model.gradients().items()}


@pytest.mark.parametrize("shards,threads", [(2, 2), (3, 2), (2, 1)])
@pytest.mark.parametrize("clip_dz", [None, 1e-3])
def test_sharded_step_gives_the_whole_batch_gradient(shards, threads, clip_dz):
    x, y = batch()
    loss, logits, grads = reference(make(), x, y, clip_dz)
    model = make()
    with nn.DataParallel(model, shards, np.random.default_rng(1), loss=nn.softmax_cross_entropy, threads=threads) as dp:
        got_loss, got_logits = dp.train_step(x, y, clip_dz=clip_dz)
    assert got_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(got_logits, logits, rtol=1e-12)
    assert dp.grads.keys() == grads.keys()
    for name, g in grads.items():
        np.testing.assert_allclose(dp.grads[name], g, rtol=1e-10, atol=1e-14, err_msg=name)


def test_a_batch_smaller_than_the_shard_count_ignores_stale_shards():
    x, y = batch(n=10)
    model = make()
    with nn.DataParallel(model, 4, np.random.default_rng(1), loss=nn.softmax_cross_entropy, threads=2) as dp:
        dp.train_step(x, y)  # every replica now holds gradients
        dp.train_step(x[:1], y[:1])  # one row: only the last shard runs
    _, _, grads = reference(make(), x[:1], y[:1])
    for name, g in grads.items():
        np.testing.assert_allclose(dp.grads[name], g, rtol=1e-10, atol=1e-14, err_msg=name)


def test_replicas_share_parameters_and_own_their_gradients():
    model = make()
    dp = nn.DataParallel(model, 2, np.random.default_rng(1), loss=nn.softmax_cross_entropy)
    for replica in dp.replicas.values():
        for (name, p), q in zip(model.parameters().items(), replica.parameters().values()):
            assert p is q, name
        for g, h in zip(model.gradients().values(), replica.gradients().values()):
            assert g is not h


def test_inference_matches_the_model():
    x, _ = batch(n=9)
    model = make()
    with nn.DataParallel(model, 2, np.random.default_rng(1), loss=nn.softmax_cross_entropy) as dp:
        np.testing.assert_array_equal(dp.forward(x), np.concatenate([model.forward(x[:4]), model.forward(x[4:])]))


def test_results_depend_on_shards_not_on_threads(monkeypatch):
    """The same seed and shards give bit-identical weights on one core or two (dropout included)."""
    data = random_problem()
    recipe = RECIPE.replace(epochs=3, shards=2)
    weights = []
    for cores in (1, 2):
        monkeypatch.setattr(parallel.os, "cpu_count", lambda cores=cores: cores)
        model = nn.build(SMALL_CNN, (1, 8, 8), 4, np.random.default_rng(0))
        fit(model, recipe, data, data, np.random.default_rng(0), log=lambda *_: None)
        weights.append(model.parameters())
    for name in weights[0]:
        np.testing.assert_array_equal(weights[0][name], weights[1][name], err_msg=name)


def test_blas_threads_are_limited_inside_and_restored_after():
    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    before = blas_threads()
    with nn.DataParallel(make(), 2, np.random.default_rng(1), loss=nn.softmax_cross_entropy, threads=2):
        inside = blas_threads()
    assert blas_threads() == before
    assert inside == [max(1, (os.cpu_count() or 1) // 2)] * len(before)


def test_float32_step_stays_float32():
    x, y = batch(dtype=np.float32)
    with nn.DataParallel(make(dtype=np.float32), 2, np.random.default_rng(1), loss=nn.softmax_cross_entropy) as dp:
        _, logits = dp.train_step(x, y)
    assert logits.dtype == np.float32
    assert all(g.dtype == np.float32 for g in dp.grads.values())
