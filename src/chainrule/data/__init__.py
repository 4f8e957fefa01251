"""Data sets and batching, with ``torch.utils.data``'s names (also importable as
:mod:`chainrule.utils.data`): :class:`Dataset`, :class:`IterableDataset`, :class:`TensorDataset`,
:class:`Subset`, :class:`ConcatDataset`, :func:`random_split`, the samplers and
:class:`DataLoader`; and ready-made data sets: :func:`xor`, :func:`linear`, :func:`spirals`,
:func:`moons`, :func:`digits` (scikit-learn's), :func:`mnist1d` and :func:`from_csv`.

```pycon
>>> import chainrule as cr
>>> from chainrule.data import DataLoader, TensorDataset
>>> loader = DataLoader(TensorDataset(cr.randn(10, 3), cr.arange(10)), batch_size=4)
>>> [tuple(x.shape) for x, y in loader]
[(4, 3), (4, 3), (2, 3)]

```
"""

from chainrule.data.collate import default_collate, default_convert
from chainrule.data.csv_table import from_csv
from chainrule.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
)
from chainrule.data.digits import digits
from chainrule.data.loader import DataLoader
from chainrule.data.mnist1d import mnist1d
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
from chainrule.data.synthetic import linear, moons, spirals, xor
from chainrule.data.workers import WorkerInfo, get_worker_info

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
    "digits",
    "from_csv",
    "get_worker_info",
    "linear",
    "mnist1d",
    "moons",
    "random_split",
    "spirals",
    "xor",
]
