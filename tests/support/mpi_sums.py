"""Run under mpiexec (tests/test_mpi.py): MPIGroup's sum and gather give, in every process, exactly
what one process holding every slice gives, for slices spread unevenly over the processes."""

from __future__ import annotations

import sys

import numpy as np

from scratchnet.nn.collective import MPIGroup, Solo


def _last(group: MPIGroup, shards: int) -> range:
    """The slices the last process holds."""
    return range((group.size - 1) * shards // group.size, shards)


def main(shards: int, length: int) -> None:
    group = MPIGroup()
    rng = np.random.default_rng(0)  # the same slices in every process; each keeps its own
    slices = [(rng.standard_normal(length) * 10.0 ** rng.integers(-4, 4)).astype(np.float32) for _ in range(shards)]
    expected = np.empty(length, np.float32)
    Solo().sum_slices(expected, slices)
    backwards = np.empty(length, np.float32)
    Solo().sum_slices(backwards, slices[::-1])
    assert backwards.tobytes() != expected.tobytes(), "these slices do not tell one order of addition from another"
    got = np.full(length, np.nan, np.float32)
    group.sum_slices(got, [slices[k] for k in group.mine(shards)])
    assert got.tobytes() == expected.tobytes(), f"process {group.rank}: the sum differs"
    assert group.gather([f"slice {k}" for k in group.mine(shards)]) == [f"slice {k}" for k in range(shards)]
    # a short batch leaves the last process's slices empty: it holds none, and the sum is the others'
    kept = [k for k in range(shards) if k not in _last(group, shards)]
    expected = np.empty(length, np.float32)
    Solo().sum_slices(expected, [slices[k] for k in kept])
    got = np.full(length, np.nan, np.float32)
    group.sum_slices(got, [slices[k] for k in group.mine(shards) if k in kept])
    assert got.tobytes() == expected.tobytes(), f"process {group.rank}: the sum without the last process's differs"
    assert group.gather([k for k in group.mine(shards) if k in kept]) == kept
    print(f"process {group.rank} of {group.size}: slices {list(group.mine(shards))} ok")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
