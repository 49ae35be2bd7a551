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


def _mosaic(tiles: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """Tiles (N, h, w) laid out in rows of `cols`, NaN between and after them (drawn as background).
    One image on one axes: matplotlib draws many small axes far more slowly."""
    n, h, w = tiles.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan, np.float32)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tile
    return out


def worst_png(images: np.ndarray, actual: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
              path: Path | str) -> None:
    """Grid of images (M, H, W) with their true and predicted labels."""
    m = max(len(images), 1)
    cols = min(m, 5)
    rows = -(-m // cols)
    plt, fig, ax = _figure(figsize=(2 * cols, 2.2 * rows))
    ax.axis("off")
    if not len(images):
        ax.text(0.5, 0.5, "no misclassified images", ha="center")
    else:
        h, w = images.shape[1:]
        pad = max(2, h // 3)  # room for each image's caption
        cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
        ax.imshow(_mosaic(images.astype(np.float32), cols, pad), cmap=cmap)
        for i, (a, p, c) in enumerate(zip(actual, predicted, confidence)):
            r, col = divmod(i, cols)
            ax.text(col * (w + pad) + w / 2, r * (h + pad) - 0.8, f"true {a}, pred {p} ({c:.0%})",
                    ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    _save(plt, fig, path)


def first_layer_png(weights: np.ndarray, input_shape: tuple[int, ...], path: Path | str) -> None:
    """What the first layer looks for: conv filters W (O, C, kh, kw) as kh x kw tiles (first input
    channel), or a dense layer's W (D, U) as U tiles of the input's (H, W) shape. Red is positive,
    blue negative, each tile on its own symmetric scale."""
    if weights.ndim == 4:
        tiles = weights[:, 0]
    elif weights.shape[0] == int(np.prod(input_shape[-2:])):
        tiles = weights.T.reshape(-1, *input_shape[-2:])
    else:  # a dense layer behind pooling: its inputs are no image, so each unit is a strip
        tiles = weights.T[:, None, :]
    n = len(tiles)
    cols = min(n, 16)
    rows = -(-n // cols)
    scale = np.abs(tiles).reshape(n, -1).max(axis=1)
    tiles = tiles / np.where(scale > 0, scale, 1)[:, None, None]  # each tile in [-1, 1]
    plt, fig, ax = _figure(figsize=(0.7 * cols, 0.7 * rows + 0.5))
    ax.axis("off")
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    ax.imshow(_mosaic(tiles.astype(np.float32), cols), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    kind = "conv filters" if weights.ndim == 4 else "dense weights, one tile per unit"
    ax.set_title(f"first layer: {n} {kind}", fontsize=9)
    fig.tight_layout()
    _save(plt, fig, path)


def per_class_png(recall: np.ndarray, classes: list, path: Path | str) -> None:
    """Test accuracy of each class (its recall), as horizontal bars."""
    plt, fig, ax = _figure(figsize=(6, 0.9 + 0.3 * len(classes)))
    y = np.arange(len(classes))
    ax.barh(y, recall, color="#3b6cf6")
    for yi, r in zip(y, recall):
        ax.text(min(r, 1.0) - 0.002, yi, f"{r:.2%}", ha="right", va="center", fontsize=7, color="white")
    low = max(0.0, float(np.min(recall)) - 0.02) if len(recall) else 0.0
    ax.set(yticks=y, yticklabels=classes, xlim=(low, 1.0), xlabel="test accuracy of the class (recall)",
           title="per-class accuracy (test)")
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _save(plt, fig, path)
