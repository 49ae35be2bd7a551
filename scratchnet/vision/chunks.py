"""Pictures made in seeded chunks over processes: what comes out depends on the seed and the count,
never on how many workers made it. The negatives stage draws and prints its pictures so, and the
detector stage photographs its digits so."""

from __future__ import annotations

import numpy as np

CHUNK = 500  # pictures per seeded chunk: the output depends on seed and count, not on the workers


def _chunk(job) -> np.ndarray:
    seq, n, size, sampler, data = job
    rng = np.random.default_rng(seq)
    pictures = sampler(n, rng, size) if data is None else sampler(data, rng, size)
    return np.round(pictures * 255).astype(np.uint8)


def generate(sampler, count: int, seed: int | np.random.SeedSequence, size: tuple[int, int],
             workers: int | None = None) -> np.ndarray:
    """(count, h, w) uint8 pictures of `sampler(n, rng, size)` (a module-level function returning
    float32 in [0, 1]), made in chunks of CHUNK, each from its own child of `seed`, over `workers`
    processes (default: the cores)."""
    return _in_chunks(sampler, count, seed, size, workers, None)


def transform(sampler, data: np.ndarray, seed: int | np.random.SeedSequence, size: tuple[int, int],
              workers: int | None = None) -> np.ndarray:
    """uint8 pictures of `sampler(rows, rng, size)` made from data (N, ...) in chunks of CHUNK rows,
    seeded as generate's (the sampler may drop rows it cannot use)."""
    return _in_chunks(sampler, len(data), seed, size, workers, data)


def _in_chunks(sampler, count: int, seed, size: tuple[int, int], workers: int | None, data) -> np.ndarray:
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    seqs = root.spawn(-(-count // CHUNK))
    jobs = [(s, min(CHUNK, count - i * CHUNK), tuple(size), sampler,
             None if data is None else data[i * CHUNK:(i + 1) * CHUNK]) for i, s in enumerate(seqs)]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        parts = [_chunk(j) for j in jobs]
    else:
        # spawned, not forked: the caller may already run threads (BLAS, onnxruntime), and a fork
        # copies their locks in whatever state they are
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_chunk, jobs))
    return np.concatenate(parts) if parts else np.zeros((0, *size), np.uint8)
