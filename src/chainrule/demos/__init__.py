"""Small complete programs behind ``chainrule demo NAME``.

The seed articles' programs, rebuilt correctly (each module's docstring names the article's
bugs), and classic small problems trained with ``chainrule.train.fit``.
"""

# demo name -> (module under chainrule.demos, one line on what it shows)
SEEDS = {
    "three-four-one": ("seed_000_three_four_one", "article 000: a 3-4-1 sigmoid network"),
    "linear-model": ("seed_001_linear_model", "article 001: y = Wx + b on one sample"),
    "two-two-one": ("seed_002_two_two_one", "article 002: the 2-2-1 XOR network"),
    "linear-regression": ("seed_003_linear_regression", "article 003: y = 3x + noise"),
    "xor-no-bias": ("seed_004_xor_no_bias", "article 004: XOR without biases, and with them"),
}
