"""chainrule: neural networks trained by backpropagation, on NumPy, with PyTorch's API.

>>> import chainrule as cr
>>> w = cr.tensor([[0.5, -0.3]], requires_grad=True)
>>> loss = (w @ cr.tensor([[1.0], [2.0]])).sigmoid().sum()
>>> loss.backward()
>>> w.grad.shape
(1, 2)
"""

from chainrule.tensor import Tensor  # noqa: I001 - the tensor binds the operations on import
from chainrule.autograd.engine import backward
from chainrule.autograd.function import Function
from chainrule.autograd.gradcheck import GradcheckError, gradcheck
from chainrule.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from chainrule.dtypes import (
    bool_ as bool,  # noqa: A004 - PyTorch's name
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from chainrule.dtypes import float as float  # noqa: A004
from chainrule.dtypes import int as int  # noqa: A004
from chainrule.ops.rectifiers import celu, prelu, relu, selu
from chainrule.ops.smooth_activations import sigmoid, tanh
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.ops.compare import (
    allclose,
    eq,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    logical_and,
    logical_not,
    logical_or,
    lt,
    ne,
    sign,
)
from chainrule.ops.conversion import clone
from chainrule.ops.cumulative import cumprod, cumsum
from chainrule.ops.elementwise import (
    abs,  # noqa: A004
    add,
    clamp,
    cos,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,  # noqa: A004
    sin,
    sqrt,
    sub,
    where,
)
from chainrule.ops.indexing import (
    gather,
    index_select,
    masked_fill,
    masked_select,
    scatter,
    scatter_add,
)
from chainrule.ops.linalg import dot, matmul, mm
from chainrule.ops.matrix import addmm, baddbmm, bmm, diag, einsum, outer, tril, triu
from chainrule.ops.movement import (
    cat,
    chunk,
    concat,
    flatten,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from chainrule.ops.rearrange import flip, fliplr, flipud, repeat_interleave, roll, tile
from chainrule.ops.reduce import (
    argmax,
    argmin,
    logsumexp,
    max,  # noqa: A004
    mean,
    min,  # noqa: A004
    std,
    sum,  # noqa: A004
    var,
)
from chainrule.ops.sorting import argsort, kthvalue, sort, topk
from chainrule.ops.vector_norm import norm
from chainrule.ops.sampling import bernoulli, multinomial, normal
from chainrule.random import (
    Generator,
    fork_rng,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from chainrule.devices import device, get_default_device, set_default_device
from chainrule.legacy import (
    BFloat16Tensor,
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from chainrule.size import Size

from chainrule import accelerator, cuda, data, inspect, linalg, metrics, nn, optim, plot, train
from chainrule import utils
from chainrule.io import load, save
from chainrule.inspect.summary import summary

clip = clamp
divide = div
multiply = mul
subtract = sub
negative = neg

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # bfloat16 comes from the optional package ml_dtypes, slow to import: only on first use.
    if name == "bfloat16":
        from chainrule.dtypes import bfloat16_dtype

        return bfloat16_dtype()
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
