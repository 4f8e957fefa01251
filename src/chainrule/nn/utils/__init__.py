"""Helpers around modules and their training, with the names of ``torch.nn.utils``: gradient
clipping, parameters as one vector, and (in :mod:`chainrule.nn.utils.rnn`) padded and packed
batches of sequences of different lengths."""

from chainrule.nn.utils import rnn
from chainrule.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from chainrule.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "rnn",
    "vector_to_parameters",
]
