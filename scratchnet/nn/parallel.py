"""Data parallelism over threads, and over processes: each batch is cut into `shards` slices that
replicas of the model, sharing its parameter arrays, run at the same time. Across processes
(collective.MPIGroup) each runs its own slices, and the gradients are summed by MPI.

NumPy releases the GIL inside ufuncs, copies and BLAS calls, so two threads keep two cores busy
through a CNN's element-wise passes (im2col, pooling, ReLU) as well as its GEMMs, where BLAS's own
threads would leave a core idle for all of the former. A dense net gains nothing: it is a few GEMMs
per step, which BLAS already splits well. Results depend on `shards` (the gradient is summed shard
by shard, and each replica's dropout has its own generator), never on how many cores or
processes run them.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .collective import Solo
from .model import Sequential


class DataParallel:
    """Train and infer with `model` on `shards` slices of each batch, at most one thread per core.

    `loss(logits, targets) -> (mean loss, dL/dlogits)` is the batch-mean loss to differentiate.
    `group` spreads the slices over processes (collective.MPIGroup); each runs its own on threads.
    Use as a context manager: inside it, BLAS runs one thread per shard's thread, so the threads
    do not oversubscribe the cores. With shards=1 it runs the model itself, exactly as without it.
    """

    def __init__(self, model: Sequential, shards: int, rng: np.random.Generator, *, loss, threads: int | None = None,
                 group: Solo | None = None):
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self.model, self.shards, self.loss = model, shards, loss
        self.group = group if group is not None else Solo()
        self.mine = self.group.mine(shards)  # the slices this process runs
        if shards == 1:
            self.replicas = {0: model}
        else:  # every process spawns every slice's generator, and keeps its own slices'
            generators = rng.spawn(shards)
            self.replicas = {k: model.replica(generators[k]) for k in self.mine}
        self.threads = min(len(self.mine), os.cpu_count() or 1) if threads is None else threads
        self.grads = model.gradients()
        self._replica_grads = {k: replica.gradients() for k, replica in self.replicas.items()}
        self._pool = self._blas = None

    def __enter__(self) -> DataParallel:
        if self.threads > 1:
            from threadpoolctl import ThreadpoolController

            cores = os.cpu_count() or 1
            self._blas = ThreadpoolController().limit(limits=max(1, cores // self.threads), user_api="blas")
            self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="shard")
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._blas.restore_original_limits()
            self._pool = self._blas = None

    def _run(self, fn, n: int) -> list:
        """[fn(k, lo, hi) for each non-empty slice [lo, hi) of n rows that this process runs], spread
        round-robin over the threads. The calling thread takes the first share itself: one
        hand-off per step, not two."""
        bounds = [(k, k * n // self.shards, (k + 1) * n // self.shards) for k in self.mine]
        bounds = [b for b in bounds if b[2] > b[1]]
        if self._pool is None or len(bounds) <= 1:
            return [fn(*b) for b in bounds]
        errstate = np.geterr()  # errstate is per thread: carry the caller's into the workers

        def work(share):
            with np.errstate(**errstate):
                return [(i, fn(*bounds[i])) for i in share]
        shares = [range(t, len(bounds), self.threads) for t in range(self.threads)]
        futures = [self._pool.submit(work, share) for share in shares[1:] if share]
        done = dict(work(shares[0]))
        for future in futures:
            done.update(future.result())
        return [done[i] for i in range(len(bounds))]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inference logits (N, K) for x (N, ...), in every process."""
        if self.shards == 1:
            return self.model.forward(x)
        return np.concatenate(self.group.gather(self._run(lambda k, lo, hi: self.replicas[k].forward(x[lo:hi]), len(x))))

    def train_step(self, x: np.ndarray, y: np.ndarray, *, clip_dz: float | None = None) -> tuple[float, np.ndarray]:
        """Forward and backward on x (N, ...) with targets y (one-hot (N, K) or indices (N,)); fills the
        model's grads with the gradient of the batch-mean loss, in every process. Returns (loss,
        logits (N, K))."""
        n = len(x)
        pooled = [i for i, layer in enumerate(self.model.layers) if layer.statistics]

        def shard(k, lo, hi):
            replica = self.replicas[k]
            logits = replica.forward(x[lo:hi], train=True)
            loss, dlogits = self.loss(logits, y[lo:hi])
            weight = (hi - lo) / n  # each shard's mean, reweighted into the whole batch's mean
            if weight != 1:
                dlogits *= dlogits.dtype.type(weight)
            replica.backward(dlogits, clip_dz=clip_dz)
            return k, loss * weight, logits

        if self.shards == 1:
            _, loss, logits = shard(0, 0, n)
            return loss, logits
        results = self._run(shard, n)
        self.group.sum_slices(self.grads.flat, [self._replica_grads[k].flat for k, _, _ in results])
        # losses, logits and batch statistics of every slice, in slice order, in every process
        every = self.group.gather([(loss, logits, [self.replicas[k].layers[i].batch_stats for i in pooled])
                                   for k, loss, logits in results])
        for j, i in enumerate(pooled):  # running statistics: the whole batch's, pooled
            self.model.layers[i].pool_statistics([stats[j] for _, _, stats in every])
        return sum(loss for loss, _, _ in every), np.concatenate([logits for _, logits, _ in every])
