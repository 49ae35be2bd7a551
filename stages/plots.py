"""PNG plots (DVC's HTML plots load their charting library from the internet; images do not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import atomic


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(*args, **kwargs)


def _save(plt, fig, path: Path | str) -> None:
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def confusion_png(matrix: np.ndarray, classes: list, path: Path | str) -> None:
    """Heatmap of a (K, K) confusion matrix, rows actual, columns predicted."""
    k = len(classes)
    plt, fig, ax = _figure(figsize=(1.2 + 0.55 * k, 1 + 0.5 * k))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set(xticks=range(k), yticks=range(k), xticklabels=classes, yticklabels=classes,
           xlabel="predicted", ylabel="actual", title="confusion matrix (test)")
    fig.tight_layout()
    _save(plt, fig, path)


def curves_png(history: list[dict], path: Path | str) -> None:
    """Loss and accuracy per epoch, train against validation."""
    epochs = [r["epoch"] for r in history]
    plt, fig, (ax1, ax2) = _figure(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [r["train_loss"] for r in history], label="train")
    ax1.plot(epochs, [r["val_loss"] for r in history], label="val")
    ax1.set(xlabel="epoch", ylabel="loss", yscale="log", title="loss")
    ax2.plot(epochs, [r["train_accuracy"] for r in history], label="train")
    ax2.plot(epochs, [r["val_accuracy"] for r in history], label="val")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    _save(plt, fig, path)


def worst_png(images: np.ndarray, actual: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
              path: Path | str) -> None:
    """Grid of images (M, H, W) with their true and predicted labels."""
    m = max(len(images), 1)
    cols = min(m, 5)
    rows = -(-m // cols)
    plt, fig, axes = _figure(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, a, p, c in zip(axes.flat, images, actual, predicted, confidence):
        ax.imshow(img, cmap="gray_r")
        ax.set_title(f"true {a}, pred {p} ({c:.0%})", fontsize=8)
    if not len(images):
        axes[0, 0].text(0.5, 0.5, "no misclassified images", ha="center")
    fig.tight_layout()
    _save(plt, fig, path)
