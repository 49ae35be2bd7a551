"""The processes a data-parallel step is spread over: one (Solo), or an MPI communicator (MPIGroup).

Each batch is cut into `shards` slices, numbered in batch order; a group gives each process a
contiguous run of them (`mine`). After the backward pass every process holds the gradients of its
own slices; `sum_slices` leaves the sum over all slices, added in slice order, in every process.
Adding in that order, whichever process holds which slice, is what makes 2 processes of 1 slice
each train the same model, bit for bit, as 1 process of 2 slices on threads.
"""

from __future__ import annotations

import numpy as np


class Solo:
    """One process holding every slice: the sums and gathers are local."""

    rank, size = 0, 1

    def mine(self, shards: int) -> range:
        return range(shards)

    def sum_slices(self, out: np.ndarray, parts: list[np.ndarray]) -> None:
        """out = parts[0] + parts[1] + ..., left to right (out and parts: flat, same length)."""
        head, *tail = parts
        np.copyto(out, head)
        for part in tail:
            out += part

    def gather(self, items: list) -> list:
        """Every process's `items` (one per slice it holds), concatenated in slice order."""
        return items


class MPIGroup(Solo):
    """The processes of an MPI communicator (mpi4py's COMM_WORLD unless given)."""

    def __init__(self, comm=None):
        from mpi4py import MPI

        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    def mine(self, shards: int) -> range:
        if shards < self.size:
            raise ValueError(f"{shards} slices cannot give each of {self.size} processes one")
        return range(self.rank * shards // self.size, (self.rank + 1) * shards // self.size)

    def sum_slices(self, out: np.ndarray, parts: list[np.ndarray]) -> None:
        """An allreduce whose additions run in slice order: a reduce-scatter (each process gets one
        chunk of every slice's gradient, by Alltoallv, and adds them up in slice order) then an
        allgather of the summed chunks. With one slice per process, each sends and receives about
        2 (P - 1) / P of the gradient's bytes, as a ring allreduce does; the reduce-scatter half
        grows with the slices a process holds. A process may hold none: a batch shorter than the
        slice count leaves some slices empty."""
        n, size = out.size, self.size
        cuts = [q * n // size for q in range(size + 1)]
        lengths = [cuts[q + 1] - cuts[q] for q in range(size)]
        held = self.comm.allgather(len(parts))  # slices per process: fewer on a short last batch
        send = np.concatenate([part[cuts[q]:cuts[q + 1]] for q in range(size) for part in parts] or [out[:0]])
        mine = lengths[self.rank]
        received = np.empty((sum(held), mine), out.dtype)
        self.comm.Alltoallv([send, [len(parts) * length for length in lengths]],
                            [received, [count * mine for count in held]])
        chunk = np.empty(mine, out.dtype)
        np.copyto(chunk, received[0])
        for row in received[1:]:
            chunk += row
        self.comm.Allgatherv(chunk, [out, lengths])

    def gather(self, items: list) -> list:
        return [item for share in self.comm.allgather(items) for item in share]
