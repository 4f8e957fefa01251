"""The derivative table: every differentiable operation, its forward beside its backward.

- :mod:`.elementwise`: + − × ÷ pow, maximum, minimum, where, and unary math (exp, log, ...)
- :mod:`.rectifiers`: relu, leaky_relu, prelu, hardtanh (relu6), the ELU family, hard sigmoid
  and hard swish
- :mod:`.smooth_activations`: sigmoid, tanh, SiLU, Mish, GELU, softplus (:mod:`.erf` for GELU)
- :mod:`.softmax`: softmax, log_softmax
- :mod:`.regression_losses`, :mod:`.classification_losses`: the fused losses
  (:mod:`.loss_reduction`: what they share)
- :mod:`.reduce`: sum, mean, var, std, logsumexp, max, min, argmax, argmin
- :mod:`.linalg`: matmul in all its forms
- :mod:`.movement`: reshape, permute, expand, cat, stack, split, indexing
- :mod:`.conversion`: casts and copies
- :mod:`.compare`: comparisons and logic (no gradient)
"""
