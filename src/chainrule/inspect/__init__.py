"""Seeing backpropagation: what each layer's δ is, how gradients flow, what they cost.

- :func:`trace` (:mod:`~chainrule.inspect.tracer`): one forward and backward pass, layer by
  layer — a^{l-1}, z^l, a^l, δ^l, ∂C/∂W^l, ∂C/∂b^l — with ``.table()``, ``.to_dict()`` and
  ``.explain(layer)``, the articles' four equations with this step's numbers, each checked
  against autodiff (:mod:`~chainrule.inspect.explain`); :mod:`~chainrule.inspect.report`
  writes it as one self-contained HTML page (``chainrule explain --html``).
- :func:`gradcheck_model` (:mod:`~chainrule.inspect.model_check`): finite differences for every
  parameter of a whole model, in float64.
- :class:`GradientMonitor` (:mod:`~chainrule.inspect.monitor`): per layer and step, gradient
  norms, update-to-weight ratios, dead and saturated units; warns on vanishing or exploding
  gradients and dying units, and (``sharpness_every``) on a learning rate past the edge of
  stability; a ``fit`` callback or a standalone object.
- :func:`sharpness` (:mod:`~chainrule.inspect.curvature`): λ_max, the largest eigenvalue of the
  loss Hessian, by power iteration on Hessian-vector products, and the largest learning rate
  plain gradient descent is stable at, 2/λ_max.
- :func:`detect_anomaly` (:mod:`~chainrule.inspect.anomaly`): the first operation that makes a
  NaN or infinity, forward or backward, named with its shapes and the line that created it.
- :func:`graph` (:mod:`~chainrule.inspect.computational_graph`): the graph behind a tensor as
  Graphviz DOT text, SVG or PNG.
- :func:`profile` (:mod:`~chainrule.inspect.profiler`): per-layer forward and backward time
  and FLOPs — the cheap-gradient principle in measured numbers.

The hooks these are built on are PyTorch's: ``Tensor.register_hook`` and
``Module.register_forward_hook`` / ``register_full_backward_hook``.
"""

from chainrule.inspect.anomaly import (
    AnomalyError,
    detect_anomaly,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from chainrule.inspect.computational_graph import Graph, graph
from chainrule.inspect.curvature import SharpnessResult, sharpness
from chainrule.inspect.model_check import GradcheckReport, ParameterCheck, gradcheck_model
from chainrule.inspect.monitor import GradientMonitor, GradientWarning, StepRecord
from chainrule.inspect.profiler import LayerProfile, Profile, layer_flops, profile
from chainrule.inspect.tracer import LayerRecord, Trace, trace

__all__ = [
    "AnomalyError",
    "GradcheckReport",
    "GradientMonitor",
    "GradientWarning",
    "Graph",
    "LayerProfile",
    "LayerRecord",
    "ParameterCheck",
    "Profile",
    "SharpnessResult",
    "StepRecord",
    "Trace",
    "detect_anomaly",
    "gradcheck_model",
    "graph",
    "is_anomaly_enabled",
    "layer_flops",
    "profile",
    "set_detect_anomaly",
    "sharpness",
    "trace",
]
