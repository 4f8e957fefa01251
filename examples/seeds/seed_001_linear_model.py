"""Seed article 001: y = Wx + b on one sample, rebuilt on chainrule.

The program lives in ``chainrule/demos/seed_001_linear_model.py``, inside the package, so that
``chainrule demo linear-model`` runs it after ``pip install``; its docstring says what the
article's code gets wrong and what the rebuild does instead. This script runs it from a
checkout:

    python examples/seeds/seed_001_linear_model.py
"""

from chainrule.demos.seed_001_linear_model import main

if __name__ == "__main__":
    main()
