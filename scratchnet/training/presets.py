"""The named training presets: an architecture (layer specs) and the recipe that trains it.

A preset fills every train key left null in params.yaml; the keys a preset sets are the train
section's `preset` fields (scratchnet/params/train.py), which Recipe's fields hold to.
"""

from __future__ import annotations

from .recipe import Recipe

MLP_LAYERS = [
    {"type": "flatten"},
    {"type": "dense", "units": 128}, {"type": "relu"},
    {"type": "dense", "units": 64}, {"type": "relu"},
    {"type": "dense", "units": "classes"},
]

# The same 784-128-64-10 shape, each hidden layer batch-normalised before its ReLU.
MLP_BN_LAYERS = [
    {"type": "flatten"},
    {"type": "dense", "units": 128}, {"type": "batchnorm"}, {"type": "relu"},
    {"type": "dense", "units": 64}, {"type": "batchnorm"}, {"type": "relu"},
    {"type": "dense", "units": "classes"},
]

PRESETS: dict[str, Recipe] = {name: Recipe.of({**keys, "model": name}) for name, keys in {
    # The original project's recipe, exactly: plain SGD, lr 0.01 x0.95 per epoch, value clipping.
    "seed-mlp": {
        "layers": MLP_LAYERS, "epochs": 30, "batch_size": 128, "optimizer": "sgd", "lr": 0.01,
        "momentum": 0.0, "weight_decay": 0.0, "schedule": "exponential", "lr_decay": 0.95, "step_size": 10,
        "clip_dz": 10.0, "clip_value": 5.0, "clip_norm": None, "augment_rotate": 0.0, "augment_scale": 0.0, "augment_shift": 0, "shards": 1,
    },
    # The same 784-128-64-10 shape, batch-normalised, with a better recipe; 20 epochs with momentum
    # 0.95 keep the default pipeline fast (the faster recipes measured fell short of the photo tests
    # in tests/test_predict.py: docs/models.md).
    "mlp": {
        "layers": MLP_BN_LAYERS, "epochs": 20, "batch_size": 128, "optimizer": "nesterov", "lr": 0.05,
        "momentum": 0.95, "weight_decay": 5e-4, "schedule": "cosine", "lr_decay": 0.95, "step_size": 10,
        "clip_dz": None, "clip_value": None, "clip_norm": None, "augment_rotate": 0.0, "augment_scale": 0.0, "augment_shift": 1, "shards": 1,
    },
    "cnn": {
        "layers": [
            {"type": "conv2d", "filters": 32, "kernel": 3, "padding": 1}, {"type": "relu"},
            {"type": "maxpool2d", "size": 2},
            {"type": "conv2d", "filters": 64, "kernel": 3, "padding": 1}, {"type": "relu"},
            {"type": "maxpool2d", "size": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 128}, {"type": "relu"}, {"type": "dropout", "rate": 0.3},
            {"type": "dense", "units": "classes"},
        ],
        "epochs": 12, "batch_size": 128, "optimizer": "adam", "lr": 0.002, "momentum": 0.9,
        "weight_decay": 0.0, "schedule": "cosine", "lr_decay": 0.95, "step_size": 10,
        "clip_dz": None, "clip_value": None, "clip_norm": None, "augment_rotate": 0.0, "augment_scale": 0.0,
        "augment_shift": 1, "shards": 2,  # each batch in two halves on two threads: see nn/parallel.py
    },
}.items()}

# mlp's shape and recipe with a larger step and 30 epochs (docs/models.md: what each reaches)
PRESETS["mlp-long"] = PRESETS["mlp"].replace(model="mlp-long", epochs=30, lr=0.1, momentum=0.9)
