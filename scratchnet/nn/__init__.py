"""A small neural-network library in NumPy alone: layers, a sequential model, loss, optimizers and
the training step that joins them. It imports nothing from the rest of the project."""

from . import gradcheck
from .conv import Conv2D, MaxPool2D
from .layers import Dense, Dropout, Flatten, Layer, ReLU, Sigmoid, Softmax
from .loss import accuracy, correct, softmax, softmax_cross_entropy
from .model import Sequential, SpecError, batched, build
from .norm import BatchNorm
from .optim import SGD, Adam, clip_global_norm, clip_values, schedule
from .parallel import DataParallel
from .trainer import Trainer

__all__ = [
    "SGD",
    "Adam",
    "BatchNorm",
    "Conv2D",
    "DataParallel",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool2D",
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
