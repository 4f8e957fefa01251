"""A compiled training step: the array operations of an eager step, recorded and replayed.

``chainrule.compile(step_fn)`` returns a callable that runs ``step_fn`` eagerly on its first
two calls with a given kind of input, recording the array operations the step runs (each
operation's forward, the backward the engine derives, the optimiser's update), and replays them
on later calls straight on arrays: no tensors, no graph nodes, no graph walk.

Module layout: tape.py (what a recording is made of), intercept.py (what is watched while
recording), recorder.py (the recording), backward.py (the engine's walk as instructions),
island.py (modules replayed as a whole), program.py (the generated replay), step.py (the
compiled callable, its cache of replays and its fallback to eager mode).
"""

from chainrule.compiled.step import CompiledStep, compile  # noqa: A004 - torch.compile's name

__all__ = ["CompiledStep", "compile"]
