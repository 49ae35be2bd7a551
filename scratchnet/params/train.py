"""The train section of params.yaml: the preset, and any recipe key laid over it."""

from __future__ import annotations

from ..training.presets import PRESETS
from .schema import Field, Section, preset_field

SECTION = Section("train", {
    "model": Field(str, "mlp", "the preset (architecture and recipe), or custom: train.layers on the mlp "
                   "recipe", choices=(*PRESETS, "custom")),
    "layers": Field(list, None, "layer specs for custom, e.g. [{type: flatten}, {type: dense, units: classes}]",
                    nullable=True),
    "epochs": preset_field(int, "passes over the training split", low=1),
    "batch_size": preset_field(int, "images per step", low=1),
    "optimizer": preset_field(str, "the update rule", choices=("sgd", "momentum", "nesterov", "adam")),
    "lr": preset_field(float, "learning rate at the first epoch", low=0.0, low_open=True),
    "momentum": preset_field(float, "momentum of momentum and nesterov", low=0.0, high=0.999),
    "weight_decay": preset_field(float, "L2 penalty on weights (not biases)", low=0.0),
    "schedule": preset_field(str, "learning rate per epoch: constant; exponential (x lr_decay each epoch); step "
                        "(x lr_decay every step_size epochs); cosine",
                        choices=("constant", "exponential", "step", "cosine")),
    "lr_decay": preset_field(float, "factor of the exponential and step schedules", low=0.0, high=1.0, low_open=True),
    "step_size": preset_field(int, "epochs per step of the step schedule", low=1),
    "clip_dz": preset_field(float, "clip the gradient flowing between layers to [-clip_dz, clip_dz]",
                       low=0.0, low_open=True),
    "clip_value": preset_field(float, "clip every parameter gradient element to [-clip_value, clip_value]",
                          low=0.0, low_open=True),
    "clip_norm": preset_field(float, "scale the gradients so their joint L2 norm is at most clip_norm",
                         low=0.0, low_open=True),
    "augment_rotate": preset_field(float, "rotate each training image by up to this many degrees either way (0: off)",
                              low=0.0, high=45.0),
    "augment_scale": preset_field(float, "scale each training image by a factor in [1 - augment_scale, 1 + augment_scale] "
                             "(0: off)", low=0.0, high=0.5),
    "augment_shift": preset_field(int, "shift each training image by up to this many pixels (0: off)", low=0, high=4),
    "shards": preset_field(int, "split each batch into this many slices trained at once on separate threads "
                      "(data parallel; results depend on it, not on the core count)", low=1, high=64),
    "processes": Field(int, 1, "run the train stage as this many MPI processes, each taking its share of the "
                       "shards of every batch; the model depends on shards alone, which is raised to processes "
                       "where lower; the model file records shards, never processes or hosts", low=1, high=64),
    "hosts": Field((list, str), None, "where the processes run: a list of host names (host or host:slots), this "
                   "machine's first (the first process writes the outputs), or a hostfile in the launcher's "
                   "format; null: this machine", nullable=True),
    "early_stopping": Field(int, 0, "stop after this many epochs without val improvement (0: off)", low=0),
    "seed": Field(int, 0, "seeds initialisation, shuffling, dropout and augmentation", low=0),
})

# the recipe keys a preset sets, in the order a recipe lists them
PRESET_KEYS = tuple(k for k, f in SECTION.fields.items() if f.preset)
