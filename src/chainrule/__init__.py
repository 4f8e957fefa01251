"""chainrule: neural networks trained by backpropagation, on NumPy, with PyTorch's API.

```pycon
>>> import chainrule as cr
>>> w = cr.tensor([[0.5, -0.3]], requires_grad=True)
>>> loss = (w @ cr.tensor([[1.0], [2.0]])).sigmoid().sum()
>>> loss.backward()
>>> w.grad.shape
chainrule.Size([1, 2])

```
"""

from chainrule.tensor import Tensor  # noqa: I001 - the tensor binds the operations on import
from chainrule.autograd.engine import backward
from chainrule.autograd.function import Function
from chainrule.autograd.gradient_checks import GradcheckError, gradcheck
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
    logspace,
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
from chainrule.ops.shrinkage import hardshrink
from chainrule.ops.constructions import block_diag, cartesian_prod, diag_embed, vander
from chainrule.ops.integration import cumulative_trapezoid, trapezoid
from chainrule.ops.nan_skipping import fmax, fmin, nanmean, nansum
from chainrule.ops.quantiles import nanquantile, quantile
from chainrule.ops.signs import copysign, heaviside, positive, signbit
from chainrule.ops.splitting import dsplit, hsplit, tensor_split, vsplit
from chainrule.ops.vector_products import addmv, addr, chain_matmul, ger, inner, mv, vdot
from chainrule.ops.smooth_activations import sigmoid, tanh
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.ops.compare import (
    allclose,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    eq,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    ne,
)
from chainrule.ops.division import (
    floor_divide,
    fmod,
    reciprocal,
    remainder,
    rsqrt,
    true_divide,
)
from chainrule.ops.erf import erf, erfc
from chainrule.ops.exponential import (
    exp2,
    expm1,
    float_power,
    log1p,
    log2,
    log10,
    logaddexp,
    logaddexp2,
    logit,
    square,
    xlogy,
)
from chainrule.ops.fused_arithmetic import addcdiv, addcmul, lerp
from chainrule.ops.one_sided_clamp import clamp_max, clamp_min
from chainrule.ops.rounding import ceil, fix, floor, frac, round, sgn, sign, trunc  # noqa: A004
from chainrule.ops.special_values import equal, isclose, isinf, isneginf, isposinf, nan_to_num
from chainrule.ops.trigonometric import (
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    cosh,
    hypot,
    deg2rad,
    rad2deg,
    sinc,
    sinh,
    tan,
)
from chainrule.ops.cumulative import cumprod, cumsum, logcumsumexp
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
from chainrule.ops.rearrange import (
    flip,
    fliplr,
    flipud,
    ravel,
    repeat_interleave,
    roll,
    rot90,
    tile,
)
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
from chainrule.ops.sorting import argsort, kthvalue, msort, sort, topk
from chainrule.ops.axes import (
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_shapes,
    broadcast_tensors,
    broadcast_to,
    meshgrid,
    moveaxis,
    movedim,
    swapaxes,
    swapdims,
    unflatten,
)
from chainrule.ops.compare import all, any  # noqa: A004
from chainrule.ops.differences import diff
from chainrule.ops.extremes import amax, amin, aminmax, cummax, cummin
from chainrule.ops.index_updates import index_add, index_copy, index_fill, masked_scatter
from chainrule.ops.layout import (
    channels_last,
    channels_last_3d,
    clone,
    contiguous_format,
    memory_format,
    preserve_format,
)
from chainrule.ops.products import cdist, cross, kron, prod, tensordot, trace
from chainrule.ops.searching import (
    argwhere,
    bucketize,
    count_nonzero,
    isin,
    nonzero,
    searchsorted,
    unique,
)
from chainrule.ops.selection import diagonal, narrow, select, take, take_along_dim, unbind
from chainrule.ops.solve import det, inverse
from chainrule.ops.stacking import column_stack, dstack, hstack, row_stack, vstack
from chainrule.ops.statistics import (
    bincount,
    corrcoef,
    cov,
    histc,
    median,
    mode,
    nanmedian,
    std_mean,
    var_mean,
)
from chainrule.facts import is_floating_point, is_nonzero, is_tensor, numel
from chainrule.printing import get_printoptions, set_printoptions
from chainrule.promotion import can_cast, promote_types, result_type
from chainrule.ops.vector_norm import dist, norm
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

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

# The packages built on the tensor (layers, optimisers, training, data, inspection, files, ONNX)
# load on first use, through __getattr__ below: `chainrule.nn`, `from chainrule import nn` and
# `import chainrule.nn` work as before, and `import chainrule` pays only for the tensor and its
# operations. (The onnx package itself is imported only by chainrule.onnx.export().)
_SUBMODULES = frozenset(
    {
        "accelerator",
        "autograd",
        "backend",
        "compiled",
        "creation",
        "func",
        "cuda",
        "data",
        "distributed",
        "distributions",
        "devices",
        "dtypes",
        "facts",
        "files",
        "fp_errors",
        "inspect",
        "interop",
        "io",
        "legacy",
        "linalg",
        "metrics",
        "nn",
        "onnx",
        "ops",
        "optim",
        "optional",
        "plot",
        "printing",
        "promotion",
        "random",
        "safetensors_format",
        "saved_objects",
        "size",
        "special",
        "train",
        "utils",
    }
)
# Functions of those packages that are also top-level names: name -> the module defining it.
_LAZY_FUNCTIONS = {
    "compile": "chainrule.compiled",
    "gradgradcheck": "chainrule.autograd.gradient_checks",
    "load": "chainrule.io",
    "save": "chainrule.io",
    "summary": "chainrule.inspect.summary",
    "cosine_similarity": "chainrule.nn.functional",
    "rrelu": "chainrule.nn.functional",
    "rrelu_": "chainrule.nn.functional",
    "threshold": "chainrule.nn.functional",
    "threshold_": "chainrule.nn.functional",
    # special functions and factorisations, loaded on first use
    "lgamma": "chainrule.ops.gamma_functions",
    "digamma": "chainrule.ops.gamma_functions",
    "polygamma": "chainrule.ops.gamma_functions",
    "mvlgamma": "chainrule.ops.gamma_functions",
    "erfinv": "chainrule.ops.erfinv",
    "i0": "chainrule.ops.bessel",
    "logdet": "chainrule.ops.determinants",
    "slogdet": "chainrule.ops.determinants",
    "matrix_power": "chainrule.ops.determinants",
    "matrix_exp": "chainrule.ops.determinants",
    "cholesky": "chainrule.ops.linalg_old_names",
    "pinverse": "chainrule.ops.linalg_old_names",
    "qr": "chainrule.ops.linalg_old_names",
    "svd": "chainrule.ops.linalg_old_names",
}

if _TYPE_CHECKING:  # what __getattr__ gives, for type checkers and editors
    from chainrule import (
        accelerator,
        cuda,
        data,
        distributions,
        inspect,
        interop,
        linalg,
        metrics,
        nn,
        onnx,
        optim,
        plot,
        special,
        train,
        utils,
    )
    from chainrule.autograd.gradient_checks import gradgradcheck
    from chainrule.compiled import compile  # noqa: A004 - torch.compile's name
    from chainrule.inspect.summary import summary
    from chainrule.io import load, save
    from chainrule.nn.functional import cosine_similarity, rrelu, rrelu_, threshold, threshold_
    from chainrule.ops.bessel import i0
    from chainrule.ops.determinants import logdet, matrix_exp, matrix_power, slogdet
    from chainrule.ops.erfinv import erfinv
    from chainrule.ops.gamma_functions import digamma, lgamma, mvlgamma, polygamma
    from chainrule.ops.linalg_old_names import cholesky, pinverse, qr, svd

clip = clamp
divide = div
multiply = mul
subtract = sub
negative = neg
absolute = abs
greater = gt
greater_equal = ge
less = lt
less_equal = le
not_equal = ne
trapz = trapezoid

__version__ = "0.1.0"

# Freed arrays stay in the process for the next step instead of going back to the system
# (glibc only; CHAINRULE_MALLOC_TUNING=0 leaves malloc alone): chainrule/heap.py says why.
from chainrule import heap as _heap  # noqa: E402

_heap.keep_freed_memory()


def __getattr__(name: str) -> object:
    module = _LAZY_FUNCTIONS.get(name)
    if module is not None:
        value = getattr(_importlib.import_module(module), name)
        globals()[name] = value  # later lookups find it without coming here
        return value
    if name in _SUBMODULES:
        # Importing a submodule sets it as an attribute of the package.
        return _importlib.import_module(f"chainrule.{name}")
    # bfloat16 comes from the optional package ml_dtypes, slow to import: only on first use.
    if name == "bfloat16":
        from chainrule.dtypes import bfloat16_dtype

        return bfloat16_dtype()
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY_FUNCTIONS))
