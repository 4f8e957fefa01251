"""``chainrule.linalg``: PyTorch's ``torch.linalg`` namespace, as far as chainrule has it.

```pycon
>>> import chainrule as cr
>>> cr.linalg.vector_norm(cr.tensor([3.0, 4.0]))
tensor(5.)

```
"""

from chainrule.ops.linalg import matmul
from chainrule.ops.products import linalg_cross as cross
from chainrule.ops.solve import det, inv, solve
from chainrule.ops.vector_norm import linalg_norm as norm
from chainrule.ops.vector_norm import matrix_norm, svdvals, vector_norm

__all__ = [
    "cross",
    "det",
    "inv",
    "matmul",
    "matrix_norm",
    "norm",
    "solve",
    "svdvals",
    "vector_norm",
]
