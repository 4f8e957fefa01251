"""The math of layers, activations and losses, as functions with PyTorch's names.

Modules hold parameters and state and call these; every function here works on tensors alone.
One submodule per topic; this package exports them all, so ``F.conv2d`` and ``F.mse_loss``
read as in PyTorch.
"""

from chainrule.nn.functional.adaptive_max_pool import *  # noqa: F403
from chainrule.nn.functional.attention import *  # noqa: F403
from chainrule.nn.functional.classification_losses import *  # noqa: F403
from chainrule.nn.functional.conv import *  # noqa: F403
from chainrule.nn.functional.conv_transpose import *  # noqa: F403
from chainrule.nn.functional.distances import *  # noqa: F403
from chainrule.nn.functional.dropout import *  # noqa: F403
from chainrule.nn.functional.embedding_bag import *  # noqa: F403
from chainrule.nn.functional.linear import *  # noqa: F403
from chainrule.nn.functional.margin_losses import *  # noqa: F403
from chainrule.nn.functional.multiclass_margin_losses import *  # noqa: F403
from chainrule.nn.functional.normalization import *  # noqa: F403
from chainrule.nn.functional.padding import *  # noqa: F403
from chainrule.nn.functional.rectifiers import *  # noqa: F403
from chainrule.nn.functional.regression_losses import *  # noqa: F403
from chainrule.nn.functional.resampling import *  # noqa: F403
from chainrule.nn.functional.shrinkage import *  # noqa: F403
from chainrule.nn.functional.smooth_activations import *  # noqa: F403
from chainrule.nn.functional.softmax import *  # noqa: F403
from chainrule.nn.functional.sparse import *  # noqa: F403
