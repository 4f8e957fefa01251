"""Neural-network building blocks: modules, layers, activations, losses, initialisation.

Modules hold state; :mod:`chainrule.nn.functional` holds the math.
"""

from chainrule.nn import functional, init
from chainrule.nn.activations import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from chainrule.nn.containers import ModuleDict, ModuleList, Sequential
from chainrule.nn.layers.linear import Flatten, Identity, Linear
from chainrule.nn.losses import CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter

__all__ = [
    "CrossEntropyLoss",
    "Flatten",
    "Identity",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
]
