"""Seed article 002: the 2-2-1 XOR network, rebuilt on chainrule.

The program lives in ``chainrule/demos/seed_002_two_two_one.py``, inside the package, so that
``chainrule demo two-two-one`` runs it after ``pip install``; its docstring says what the
article's code gets wrong and what the rebuild does instead. This script runs it from a
checkout:

    python examples/seeds/seed_002_two_two_one.py
"""

from chainrule.demos.seed_002_two_two_one import main

if __name__ == "__main__":
    main()
