"""The derivative table: every differentiable operation, its forward beside its backward.

- :mod:`.elementwise`: + − × ÷ pow, maximum, minimum, where, and unary math (exp, log, ...)
- :mod:`.activation`: sigmoid, tanh, relu, softmax, log_softmax
- :mod:`.reduce`: sum, mean, var, std, logsumexp, max, min, argmax, argmin
- :mod:`.linalg`: matmul in all its forms
- :mod:`.movement`: reshape, permute, expand, cat, stack, split, indexing
- :mod:`.conversion`: casts and copies
- :mod:`.compare`: comparisons and logic (no gradient)
"""
