"""``torch.utils.data.distributed``'s place: :class:`DistributedSampler`, which gives each
process its shard of a data set (the class lives in :mod:`chainrule.data.sampler`).

```pycon
>>> from chainrule.utils.data.distributed import DistributedSampler
>>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
[1, 3, 0]

```
"""

from chainrule.data.sampler import DistributedSampler

__all__ = ["DistributedSampler"]
