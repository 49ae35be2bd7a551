"""Optimizers, learning-rate schedules and gradient clipping.

An optimizer is bound at construction to `params` and `grads`, two dicts keyed by qualified names
("0.W"), and to `decay`, the names weight decay applies to (a model's decayed(): the parameters
its layers give the "weight" role); `step()` updates the parameters in place. Its state is keyed by the same names, so nothing
is shared by accident, and it round-trips through state_dict() / load_state_dict().
"""

from __future__ import annotations

import math
from collections.abc import Collection
from functools import partial

import numpy as np


class Optimizer:
    """Bound to the parameters it updates and their gradients: two dicts with the same keys.

    When both dicts lay their arrays out in one flat buffer (a model's parameters() and
    gradients() do), every update is one ufunc call per operation over that buffer instead of one per
    array; callers never see the difference.
    """

    def __init__(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], *, lr: float,
                 weight_decay: float = 0.0, decay: Collection[str] | None = None):
        if params.keys() != grads.keys():
            raise ValueError(f"params and grads must have the same keys: {sorted(params)} != {sorted(grads)}")
        if weight_decay and decay is None:
            raise ValueError("weight_decay needs `decay`, the names it applies to (a model's decayed())")
        if decay is not None and not set(decay) <= params.keys():
            raise ValueError(f"decay names parameters that are not here: {sorted(set(decay) - params.keys())}")
        self.params, self.grads = params, grads
        self.decay = frozenset(decay or ())  # the names weight decay applies to
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.state: dict[str, np.ndarray] = {}
        self.steps = 0
        self._flat = _flat_pair(params, grads)  # (params buffer, grads buffer) or None
        self._flat_state: dict[str, np.ndarray] = {}  # slot -> flat buffer whose views are in self.state
        self._decay_for: float | None = None  # the weight_decay the flat decay buffer was built for
        self._temp: dict[tuple, np.ndarray] = {}

    def step(self) -> None:
        """Update every parameter in place from its gradient."""
        self.steps += 1
        if self._flat is not None:
            p, g = self._flat
            if self.weight_decay:  # g + decay * p, decay being weight_decay on weights and 0 on biases
                if self._decay_for != self.weight_decay:  # built, or rebuilt after weight_decay changed
                    self._flat_state.pop("decay", None)
                    self._decay_for = self.weight_decay
                decay = self._flat_slot("decay", fill=self._decay_of)
                decayed = np.multiply(decay, p, out=self._scratch(p, "decayed"))
                g = np.add(g, decayed, out=decayed)
            self._update(self._flat_slot, p, g)
            return
        for name, p in self.params.items():
            g = self.grads[name]
            if self.weight_decay and name in self.decay:
                g = g + p.dtype.type(self.weight_decay) * p
            self._update(partial(self._slot, name=name, like=p), p, g)

    def _decay_of(self, name: str) -> float:
        return self.weight_decay if name in self.decay else 0.0

    def _update(self, state, p: np.ndarray, g: np.ndarray) -> None:
        """Update p in place from g; state(slot) is the state array of that slot laid out like p."""
        raise NotImplementedError

    def _scratch(self, like: np.ndarray, use: str = "step") -> np.ndarray:
        """A reused temporary shaped like `like`, one per `use`: no allocation per step."""
        buf = self._temp.get((use, like.shape))
        if buf is None or buf.dtype != like.dtype:
            buf = self._temp[use, like.shape] = np.empty_like(like)
        return buf

    def _slot(self, slot: str, name: str, like: np.ndarray) -> np.ndarray:
        key = f"{name}.{slot}"
        if key not in self.state:
            self.state[key] = np.zeros_like(like)
        return self.state[key]

    def _flat_slot(self, slot: str, fill=None) -> np.ndarray:
        """A flat state buffer laid out like the flat parameters; its per-parameter views are what
        self.state holds under "name.slot", so state_dict() stays keyed by name. fill(name) gives a
        constant per parameter instead (kept out of the state)."""
        flat = self._flat_state.get(slot)
        if flat is None:
            flat = self._flat_state[slot] = np.zeros_like(self._flat[0])
            offset = 0
            for name, p in self.params.items():
                view = flat[offset:offset + p.size].reshape(p.shape)
                if fill is not None:
                    view[...] = fill(name)
                else:
                    view[...] = self.state.get(f"{name}.{slot}", 0)
                    self.state[f"{name}.{slot}"] = view
                offset += p.size
        return flat

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of the state, keyed "name.slot", plus "steps": later steps do not change it."""
        return {**{k: v.copy() for k, v in self.state.items()}, "steps": np.array(self.steps)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        if "steps" not in state:
            raise ValueError("optimizer state without its step count ('steps')")
        self.steps = int(state.pop("steps"))
        self.state = {k: np.array(v) for k, v in state.items()}
        self._flat_state = {}


def _flat_pair(params: dict, grads: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(params.flat, grads.flat) when both are FlatDicts laid out alike, else None."""
    p, g = getattr(params, "flat", None), getattr(grads, "flat", None)
    if p is None or g is None or p.shape != g.shape or p.dtype != g.dtype or list(params) != list(grads):
        return None
    if any(params[k].shape != grads[k].shape for k in params):
        return None
    return p, g


class SGD(Optimizer):
    """p -= lr * g; with momentum mu: v = mu * v + g, p -= lr * v (Nesterov: p -= lr * (g + mu * v))."""

    def __init__(self, params: dict, grads: dict, *, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, decay: Collection[str] | None = None):
        super().__init__(params, grads, lr=lr, weight_decay=weight_decay, decay=decay)
        self.momentum, self.nesterov = float(momentum), nesterov

    def _update(self, state, p, g):
        lr = p.dtype.type(self.lr)
        if not self.momentum:
            p -= np.multiply(g, lr, out=self._scratch(p))
            return
        mu = p.dtype.type(self.momentum)
        v = state("velocity")
        v *= mu
        v += g
        step = self._scratch(p)  # lr * v, or lr * (g + mu * v) for Nesterov, without temporaries
        if self.nesterov:
            np.multiply(v, mu, out=step)
            step += g
            step *= lr
        else:
            np.multiply(v, lr, out=step)
        p -= step


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; weight decay is plain L2 added to the gradient."""

    def __init__(self, params: dict, grads: dict, *, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, decay: Collection[str] | None = None):
        super().__init__(params, grads, lr=lr, weight_decay=weight_decay, decay=decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, state, p, g):
        t = p.dtype.type
        m, v = state("m"), state("v")
        m *= t(self.beta1)
        m += t(1 - self.beta1) * g
        v *= t(self.beta2)
        v += t(1 - self.beta2) * g * g
        step_size = self.lr * math.sqrt(1 - self.beta2 ** self.steps) / (1 - self.beta1 ** self.steps)
        # eps is scaled like this so the update equals lr * m_hat / (sqrt(v_hat) + eps) exactly
        eps_hat = self.eps * math.sqrt(1 - self.beta2 ** self.steps)
        p -= t(step_size) * m / (np.sqrt(v) + t(eps_hat))


def schedule(kind: str, lr: float, *, epochs: int, decay: float = 0.95, step_size: int = 10):
    """Return epoch -> learning rate (epoch counts from 0) for constant, exponential, step or cosine."""
    if kind == "constant":
        return lambda epoch: lr
    if kind == "exponential":
        return lambda epoch: lr * decay ** epoch
    if kind == "step":
        return lambda epoch: lr * decay ** (epoch // step_size)
    if kind == "cosine":
        return lambda epoch: lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    raise ValueError(f"unknown schedule {kind!r}")


def clip_values(grads: dict[str, np.ndarray], limit: float) -> None:
    """Clip every gradient element to [-limit, limit], in place."""
    for g in _arrays(grads):
        np.clip(g, -limit, limit, out=g)


def clip_global_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients together so their joint L2 norm is at most max_norm; return the old norm."""
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in _arrays(grads)))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in _arrays(grads):
            g *= g.dtype.type(scale)
    return norm


def _arrays(grads: dict[str, np.ndarray]) -> list[np.ndarray]:
    flat = getattr(grads, "flat", None)
    return [flat] if flat is not None else list(grads.values())
