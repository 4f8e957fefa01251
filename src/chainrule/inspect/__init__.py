"""Looking inside a model: whole-model gradient checks, per-layer profiles, gradient monitors.

The tools live in their own modules: :mod:`chainrule.inspect.model_check`
(``gradcheck_model``), :mod:`chainrule.inspect.profile` (``profile``) and
:mod:`chainrule.inspect.monitor` (``GradientMonitor``).
"""
