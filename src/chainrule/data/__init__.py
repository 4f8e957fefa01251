"""Data sets and batching, with ``torch.utils.data``'s names: :class:`Dataset`,
:class:`TensorDataset`, :class:`Subset`, :class:`ConcatDataset`, :func:`random_split` and
:class:`DataLoader`; and ready-made data sets: :func:`xor`, :func:`linear`, :func:`spirals`,
:func:`moons`, :func:`digits` (scikit-learn's), :func:`mnist1d` and :func:`from_csv`.

>>> import chainrule as cr
>>> from chainrule.data import DataLoader, TensorDataset
>>> loader = DataLoader(TensorDataset(cr.randn(10, 3), cr.arange(10)), batch_size=4)
>>> [x.shape for x, y in loader]
[(4, 3), (4, 3), (2, 3)]
"""

from chainrule.data.csv_table import from_csv
from chainrule.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset
from chainrule.data.digits import digits
from chainrule.data.loader import DataLoader, default_collate
from chainrule.data.mnist1d import mnist1d
from chainrule.data.split import random_split
from chainrule.data.synthetic import linear, moons, spirals, xor

__all__ = [
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "Subset",
    "TensorDataset",
    "default_collate",
    "digits",
    "from_csv",
    "linear",
    "mnist1d",
    "moons",
    "random_split",
    "spirals",
    "xor",
]
