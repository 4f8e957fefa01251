"""Seed article 004: XOR without biases, and with them, rebuilt on chainrule.

The program lives in ``chainrule/demos/seed_004_xor_no_bias.py``, inside the package, so that
``chainrule demo xor-no-bias`` runs it after ``pip install``; its docstring says what the
article's code gets wrong and what the rebuild does instead. This script runs it from a
checkout:

    python examples/seeds/seed_004_xor_no_bias.py
"""

from chainrule.demos.seed_004_xor_no_bias import main

if __name__ == "__main__":
    main()
