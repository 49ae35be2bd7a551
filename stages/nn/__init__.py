"""A small neural-network library in NumPy alone."""

from .conv import Conv2D, MaxPool2D
from .layers import Dense, Dropout, Flatten, Layer, ReLU, Sigmoid, Softmax
from .loss import accuracy, softmax, softmax_cross_entropy
from . import gradcheck
from .model import Sequential, SpecError, build
from .parallel import DataParallel
from .optim import SGD, Adam, clip_global_norm, clip_values, schedule

__all__ = [
    "Adam", "Conv2D", "DataParallel", "Dense", "Dropout", "Flatten", "Layer", "MaxPool2D", "ReLU", "SGD",
    "Sequential", "Sigmoid", "Softmax", "SpecError", "accuracy", "build", "clip_global_norm",
    "clip_values", "gradcheck", "schedule", "softmax", "softmax_cross_entropy",
]
