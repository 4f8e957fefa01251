"""Layers: modules that hold parameters and call :mod:`chainrule.nn.functional`."""
