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

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay and name.endswith(".W"):  # L2 on weights, not biases
                g = g + p.dtype.type(self.weight_decay) * p
            self._update(name, p, g)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def _slot(self, key: str, like: np.ndarray) -> np.ndarray:
        if key not in self.state:
            self.state[key] = np.zeros_like(like)
        return self.state[key]

    def state_dict(self) -> dict[str, np.ndarray]:
        return {**self.state, "steps": np.array(self.steps)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        self.steps = int(state.pop("steps"))
        self.state = {k: np.array(v) for k, v in state.items()}


class SGD(Optimizer):
    """p -= lr * g; with momentum mu: v = mu * v + g, p -= lr * v (Nesterov: p -= lr * (g + mu * v))."""

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.momentum, self.nesterov = float(momentum), nesterov

    def _update(self, name, p, g):
        lr = p.dtype.type(self.lr)
        if not self.momentum:
            p -= lr * g
            return
        mu = p.dtype.type(self.momentum)
        v = self._slot(f"{name}.velocity", p)
        v *= mu
        v += g
        p -= lr * (g + mu * v) if self.nesterov else lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; weight decay is plain L2 added to the gradient."""

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, name, p, g):
        t = p.dtype.type
        m, v = self._slot(f"{name}.m", p), self._slot(f"{name}.v", p)
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
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)


def clip_global_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients together so their joint L2 norm is at most max_norm; return the old norm."""
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm
