"""``chainrule.linalg``: PyTorch's ``torch.linalg`` namespace, as far as chainrule has it.

```pycon
>>> import chainrule as cr
>>> cr.linalg.vector_norm(cr.tensor([3.0, 4.0]))
tensor(5.)

```
"""

from chainrule.ops.chain_products import multi_dot, vecdot
from chainrule.ops.cholesky import cholesky, cholesky_ex
from chainrule.ops.decompositions import eigh, eigvalsh, qr, svd
from chainrule.ops.determinants import inv_ex, matrix_exp, matrix_power, slogdet
from chainrule.ops.linalg import matmul
from chainrule.ops.linalg_checks import LinAlgError
from chainrule.ops.products import linalg_cross as cross
from chainrule.ops.pseudo_inverse import cond, lstsq, matrix_rank, pinv
from chainrule.ops.solve import det, inv, solve
from chainrule.ops.triangular import solve_triangular
from chainrule.ops.vector_norm import linalg_norm as norm
from chainrule.ops.vector_norm import matrix_norm, svdvals, vector_norm

__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cond",
    "cross",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "inv_ex",
    "lstsq",
    "matmul",
    "matrix_exp",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_triangular",
    "svd",
    "svdvals",
    "vecdot",
    "vector_norm",
]
