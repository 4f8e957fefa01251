"""The math of layers, activations and losses, as functions with PyTorch's names.

Modules hold parameters and state and call these; every function here works on tensors alone.
One submodule per topic; this package exports them all, so ``F.conv2d`` and ``F.mse_loss``
read as in PyTorch.
"""

from chainrule.nn.functional.activation import *  # noqa: F403
from chainrule.nn.functional.conv import *  # noqa: F403
from chainrule.nn.functional.dropout import *  # noqa: F403
from chainrule.nn.functional.extra_activation import *  # noqa: F403
from chainrule.nn.functional.extra_loss import *  # noqa: F403
from chainrule.nn.functional.linear import *  # noqa: F403
from chainrule.nn.functional.loss import *  # noqa: F403
from chainrule.nn.functional.loss import _check_reduction  # noqa: F401 - used by loss modules
from chainrule.nn.functional.normalization import *  # noqa: F403
from chainrule.nn.functional.padding import *  # noqa: F403
from chainrule.nn.functional.sparse import *  # noqa: F403
