"""Seed article 000: a 3-4-1 sigmoid network, rebuilt on chainrule.

The program lives in ``chainrule/demos/seed_000_three_four_one.py``, inside the package, so that
``chainrule demo three-four-one`` runs it after ``pip install``; its docstring says what the
article's code gets wrong and what the rebuild does instead. This script runs it from a
checkout:

    python examples/seeds/seed_000_three_four_one.py
"""

from chainrule.demos.seed_000_three_four_one import main

if __name__ == "__main__":
    main()
