"""``torch.utils.data``'s names, served by :mod:`chainrule.data`: data sets, samplers, the
DataLoader and its helpers.

```pycon
>>> from chainrule.utils.data import DataLoader, TensorDataset

```
"""

import sys

from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
)
from chainrule.data.loader import DataLoader
from chainrule.data.sampler import (
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from chainrule.data.split import random_split
from chainrule.data.workers import WorkerInfo, get_worker_info
from chainrule.distributed import sampler as distributed

# torch.utils.data.distributed is a module of its own: `from chainrule.utils.data.distributed
# import DistributedSampler` finds it here, as `os.path` is found.
sys.modules[f"{__name__}.distributed"] = distributed

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "random_split",
]
