"""The derivative table: every differentiable operation, its forward beside its backward.

- :mod:`.elementwise`: + − × ÷ pow, maximum, minimum, where, and unary math (exp, log, ...);
  :mod:`.rounding`, :mod:`.exponential`, :mod:`.trigonometric`, :mod:`.division`,
  :mod:`.fused_arithmetic` (lerp, addcmul, addcdiv), :mod:`.one_sided_clamp`,
  :mod:`.special_values` (nan_to_num, isinf, isclose); :mod:`.operands`: their argument checks
- :mod:`.rectifiers`: relu, leaky_relu, prelu, hardtanh (relu6), the ELU family, hard sigmoid
  and hard swish
- :mod:`.smooth_activations`: sigmoid, tanh, SiLU, Mish, GELU, softplus (:mod:`.erf` for GELU)
- :mod:`.softmax`: softmax, log_softmax
- :mod:`.regression_losses`, :mod:`.classification_losses`: the fused losses
  (:mod:`.loss_reduction`: what they share)
- :mod:`.reduce`: sum, mean, var, std, logsumexp, max, min, argmax, argmin; :mod:`.extremes`
  (amax, amin, cummax), :mod:`.statistics` (median, mode, std_mean, histc, bincount),
  :mod:`.cumulative` (cumsum, cumprod), :mod:`.differences` (diff), :mod:`.vector_norm`
- :mod:`.linalg`: matmul in all its forms; :mod:`.matrix` (bmm, addmm, einsum, tril, diag),
  :mod:`.products` (prod, tensordot, kron, cross, cdist), :mod:`.solve` (inv, det, solve)
- :mod:`.movement`: reshape, permute, expand, cat, stack, split, indexing; :mod:`.axes`,
  :mod:`.selection` (narrow, select, unbind, diagonal), :mod:`.stacking`, :mod:`.rearrange`
  (repeat, tile, roll, flip), :mod:`.layout` (clone, contiguous)
- :mod:`.indexing` (gather, scatter, index_select, masked_*), :mod:`.index_updates`
  (index_add_, index_fill_, ...), :mod:`.sorting`, :mod:`.searching` (nonzero, unique)
- :mod:`.conv`, :mod:`.conv_transpose` (:mod:`.im2col` for both), :mod:`.pooling`,
  :mod:`.padding`, :mod:`.norm`, :mod:`.dropout`, :mod:`.recurrent` (:mod:`.recurrent_cells`),
  :mod:`.sparse`: the layers' operations (:mod:`.work_arrays`: their reused memory)
- :mod:`.inplace`, :mod:`.inplace_math`, :mod:`.assignment`: in-place forms in the graph
- :mod:`.sampling`: random draws; :mod:`.conversion`: casts and copies
- :mod:`.compare`: comparisons and logic (no gradient)
"""
