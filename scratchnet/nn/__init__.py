"""A small neural-network library in NumPy alone: layers, a sequential model, loss, optimizers and
the training step that joins them. It imports nothing from the rest of the project."""

from . import gradcheck
from .build import build
from .conv import Conv2D, MaxPool2D
from .layers import LAYERS, Dense, Dropout, Flatten, Layer, OnnxNode, ReLU, Sigmoid, Softmax
from .loss import accuracy, correct, softmax, softmax_cross_entropy
from .model import Sequential, batched
from .norm import BatchNorm
from .optim import SGD, Adam, clip_global_norm, clip_values, schedule
from .parallel import DataParallel
from .spec import Context, SpecError
from .trainer import Trainer

__all__ = [
    "LAYERS",
    "SGD",
    "Adam",
    "BatchNorm",
    "Context",
    "Conv2D",
    "DataParallel",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool2D",
    "OnnxNode",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "SpecError",
    "Trainer",
    "accuracy",
    "batched",
    "build",
    "clip_global_norm",
    "clip_values",
    "correct",
    "gradcheck",
    "schedule",
    "softmax",
    "softmax_cross_entropy",
]
