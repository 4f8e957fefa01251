"""Seed article 003: y = 3x + noise, rebuilt on chainrule.

The program lives in ``chainrule/demos/seed_003_linear_regression.py``, inside the package, so
that ``chainrule demo linear-regression`` runs it after ``pip install``; its docstring says what
the article's code gets wrong and what the rebuild does instead. This script runs it from a
checkout:

    python examples/seeds/seed_003_linear_regression.py
"""

from chainrule.demos.seed_003_linear_regression import main

if __name__ == "__main__":
    main()
