"""The training loop: a recipe's model and optimizer, epochs of augmented batches, and the best
weights by validation accuracy kept."""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from .. import nn
from ..errors import TrainingDiverged
from ..vision.augment import augment
from .recipe import Recipe


def make_optimizer(recipe: Recipe, model: nn.Sequential) -> nn.optim.Optimizer:
    """The recipe's optimizer, bound to the model's weights and gradients."""
    kind, lr, wd = recipe.optimizer, recipe.lr, recipe.weight_decay
    weights, grads, decay = model.parameters(), model.gradients(), model.decayed()
    if kind == "adam":
        return nn.Adam(weights, grads, lr=lr, weight_decay=wd, decay=decay)
    momentum = 0.0 if kind == "sgd" else recipe.momentum
    return nn.SGD(weights, grads, lr=lr, momentum=momentum, nesterov=kind == "nesterov", weight_decay=wd, decay=decay)


def evaluate_split(model: nn.Sequential | nn.Trainer, x: np.ndarray, y: np.ndarray,
                   batch_size: int = 1000) -> tuple[float, float]:
    """(mean loss, accuracy) of `model` on x (N, C, H, W) with one-hot y (N, K)."""
    logits = model.predict_logits(x, batch_size)
    total_loss = 0.0
    for i in range(0, len(x), batch_size):  # the loss batch by batch, as it always was: same digits
        loss, _ = nn.softmax_cross_entropy(logits[i:i + batch_size], y[i:i + batch_size])
        total_loss += loss * len(logits[i:i + batch_size])
    return total_loss / len(x), nn.accuracy(logits, y)


def _bar(total: int, epoch: int, epochs: int):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"epoch {epoch}/{epochs}", unit="img", leave=False,
                disable=not sys.stderr.isatty())


def train_epoch(trainer: nn.Trainer, recipe: Recipe, x: np.ndarray, y: np.ndarray, order: np.ndarray,
                augment_rng: np.random.Generator, epoch: int) -> tuple[float, float]:
    """One pass over x (N, C, H, W), y (N, K) one-hot in `order`; returns (mean loss, accuracy)."""
    bs = recipe.batch_size
    starts = list(range(0, len(x), bs))
    if len(starts) > 1 and recipe.has_batchnorm and len(x) - starts[-1] < 2 * recipe.shards:
        starts.pop()  # a last batch too small for batch statistics joins the one before it
    ends = [*starts[1:], len(x)]
    rotate, scale, shift = recipe.augment_rotate, recipe.augment_scale, recipe.augment_shift
    start, seen, loss_sum, correct = time.perf_counter(), 0, 0.0, 0
    with _bar(len(x), epoch, recipe.epochs) as bar:
        for b, (i, end) in enumerate(zip(starts, ends), start=1):
            idx = order[i:end]
            xb, yb = x[idx], y[idx]
            xb = augment(xb, augment_rng, rotate=rotate, scale=scale, shift=shift)
            loss, logits = trainer.step(xb, yb)
            if not math.isfinite(loss):
                raise TrainingDiverged(f"loss became {loss} at epoch {epoch}, batch {b}: lower train.lr or enable clipping")
            seen += len(idx)
            loss_sum += loss * len(idx)
            correct += nn.correct(logits, yb)
            if not bar.disable:
                bar.update(len(idx))
                bar.set_postfix(loss=f"{loss:.4f}", acc=f"{correct / seen:.4f}",
                                rate=f"{seen / (time.perf_counter() - start):.0f}/s", refresh=False)
    return loss_sum / seen, correct / seen


def fit(model: nn.Sequential, recipe: Recipe, train: dict, val: dict, rng: np.random.Generator,
        log=print, on_epoch=None, group=None) -> tuple[list[dict], int, list[float]]:
    """Train in place; restore the best weights by val accuracy. on_epoch(row, seconds, trainer), if
    given, runs after each epoch with its history row (the train stage logs it through DVCLive;
    bench/time_to_accuracy.py measures test accuracy there). Under MPI (`group`), every process
    calls fit with the same arguments and ends with the same weights and history.

    Returns (history, best epoch, seconds per epoch): the history holds only what the seed
    determines, the wall-clock seconds come apart.
    """
    x, y = train["x"][:, None], train["y"]
    xv, yv = val["x"][:, None], val["y"]
    opt = make_optimizer(recipe, model)
    lr_at = nn.schedule(recipe.schedule, recipe.lr, epochs=recipe.epochs, decay=recipe.lr_decay,
                        step_size=recipe.step_size)
    shuffle_rng, augment_rng, shard_rng = rng.spawn(3)
    weights = model.arrays()  # batchnorm's running statistics go with the weights they were measured under
    best_weights = {k: v.copy() for k, v in weights.items()}
    history, epoch_seconds, best, best_score, stale = [], [], 0, -math.inf, 0
    trainer = nn.Trainer(model, opt, loss=nn.softmax_cross_entropy, shards=recipe.shards, rng=shard_rng,
                         clip_dz=recipe.clip_dz, clip_value=recipe.clip_value, clip_norm=recipe.clip_norm,
                         group=group)
    with trainer:
        for epoch in range(1, recipe.epochs + 1):
            opt.lr = lr_at(epoch - 1)
            start = time.perf_counter()
            loss, acc = train_epoch(trainer, recipe, x, y, shuffle_rng.permutation(len(x)), augment_rng, epoch)
            seconds = time.perf_counter() - start
            val_loss, val_acc = evaluate_split(trainer, xv, yv) if len(xv) else (math.nan, math.nan)
            history.append({"epoch": epoch, "train_loss": loss, "train_accuracy": acc, "val_loss": val_loss,
                            "val_accuracy": val_acc, "lr": opt.lr})
            epoch_seconds.append(seconds)
            if on_epoch is not None:
                on_epoch(history[-1], seconds, trainer)
            log(f"epoch {epoch:3d}  loss {loss:.4f}  acc {acc:.4f}  val_loss {val_loss:.4f}  "
                f"val_acc {val_acc:.4f}  lr {opt.lr:.5f}  {seconds:.1f}s")
            score = val_acc if len(xv) else -loss  # without a val split, keep the lowest train loss
            if score > best_score:
                best, best_score, stale = epoch, score, 0
                for k, v in weights.items():
                    best_weights[k][...] = v
            else:
                stale += 1
                if recipe.early_stopping and stale >= recipe.early_stopping:
                    log(f"early stopping: no val improvement for {stale} epochs")
                    break
    for k, v in weights.items():
        v[...] = best_weights[k]
    return history, best, epoch_seconds

