"""Optimizers, learning-rate schedules and gradient clipping.

Optimizers take `params` and `grads`, two dicts keyed by qualified names ("0.W"), and update the
parameters in place. Their state is keyed by the same names, so nothing is shared by accident, and
it round-trips through state_dict() / load_state_dict().
"""

from __future__ import annotations

import math

import numpy as np


class Optimizer:
    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.state: dict[str, np.ndarray] = {}
        self.steps = 0
        self._flat: dict[str, np.ndarray] = {}  # slot -> flat buffer whose views are in self.state
        self._temp: dict[tuple, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        flat = _flat_pair(params, grads)
        if flat is not None:  # every array at once: one ufunc call per operation
            p, g = flat
            if self.weight_decay:  # g + decay * p, decay being weight_decay on weights and 0 on biases
                decay = self._flat_slot("decay", params, fill=self._decay_of)
                decayed = np.multiply(decay, p, out=self._scratch(p, "decayed"))
                g = np.add(g, decayed, out=decayed)
            self._update(params, p, g)
            return
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay and name.endswith(".W"):  # L2 on weights, not biases
                g = g + p.dtype.type(self.weight_decay) * p
            self._update(name, p, g)

    def _decay_of(self, name: str) -> float:
        return self.weight_decay if name.endswith(".W") else 0.0

    def _update(self, name: str | dict, p: np.ndarray, g: np.ndarray) -> None:
        """Update p in place; `name` is the parameter's name, or the whole dict when p is flat."""
        raise NotImplementedError

    def _scratch(self, like: np.ndarray, use: str = "step") -> np.ndarray:
        """A reused temporary shaped like `like`, one per `use`: no allocation per step."""
        buf = self._temp.get((use, like.shape))
        if buf is None or buf.dtype != like.dtype:
            buf = self._temp[use, like.shape] = np.empty_like(like)
        return buf

    def _slot(self, slot: str, name: str | dict, like: np.ndarray) -> np.ndarray:
        if isinstance(name, dict):
            return self._flat_slot(slot, name)
        key = f"{name}.{slot}"
        if key not in self.state:
            self.state[key] = np.zeros_like(like)
        return self.state[key]

    def _flat_slot(self, slot: str, params: dict, fill=None) -> np.ndarray:
        """A flat state buffer laid out like params.flat; its per-parameter views are what
        self.state holds under "name.slot", so state_dict() stays keyed by name."""
        flat = self._flat.get(slot)
        if flat is None or flat.shape != params.flat.shape:
            flat = self._flat[slot] = np.zeros_like(params.flat)
            offset = 0
            for name, p in params.items():
                view = flat[offset:offset + p.size].reshape(p.shape)
                if fill is not None:
                    view[...] = fill(name)
                else:
                    view[...] = self.state.get(f"{name}.{slot}", 0)
                    self.state[f"{name}.{slot}"] = view
                offset += p.size
        return flat

    def state_dict(self) -> dict[str, np.ndarray]:
        return {**self.state, "steps": np.array(self.steps)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        self.steps = int(state.pop("steps"))
        self.state = {k: np.array(v) for k, v in state.items()}
        self._flat = {}


def _flat_pair(params: dict, grads: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(params.flat, grads.flat) when both are FlatDicts laid out alike, else None."""
    p, g = getattr(params, "flat", None), getattr(grads, "flat", None)
    if p is None or g is None or p.shape != g.shape or p.dtype != g.dtype or params.keys() != grads.keys():
        return None
    return p, g


class SGD(Optimizer):
    """p -= lr * g; with momentum mu: v = mu * v + g, p -= lr * v (Nesterov: p -= lr * (g + mu * v))."""

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.momentum, self.nesterov = float(momentum), nesterov

    def _update(self, name, p, g):
        lr = p.dtype.type(self.lr)
        if not self.momentum:
            p -= np.multiply(g, lr, out=self._scratch(p))
            return
        mu = p.dtype.type(self.momentum)
        v = self._slot("velocity", name, p)
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

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, name, p, g):
        t = p.dtype.type
        m, v = self._slot("m", name, p), self._slot("v", name, p)
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
