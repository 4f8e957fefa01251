"""Neural-network building blocks: modules, layers, activations, losses, initialisation.

Modules hold state; :mod:`chainrule.nn.functional` holds the math.
"""

from chainrule.nn import functional, init, utils
from chainrule.nn.activations import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from chainrule.nn.containers import ModuleDict, ModuleList, Sequential
from chainrule.nn.extra_activations import ELU, GELU, SiLU, Softplus
from chainrule.nn.extra_losses import BCELoss, BCEWithLogitsLoss, HuberLoss
from chainrule.nn.layers.conv import Conv1d, Conv2d
from chainrule.nn.layers.dropout import Dropout
from chainrule.nn.layers.linear import Flatten, Identity, Linear
from chainrule.nn.layers.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from chainrule.nn.layers.pool import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from chainrule.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.layers.reshape import Unflatten
from chainrule.nn.layers.sparse import Embedding
from chainrule.nn.losses import CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter

__all__ = [
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GroupNorm",
    "HuberLoss",
    "Identity",
    "L1Loss",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "RNNCell",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "utils",
]
