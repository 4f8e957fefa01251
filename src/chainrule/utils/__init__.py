"""``torch.utils``'s place in chainrule: :mod:`chainrule.utils.data` holds the data-loading names,
so ``torch.utils.data.DataLoader`` works after ``import chainrule as torch``, and
``from torch.utils.data import DataLoader`` becomes ``from chainrule.utils.data import ...``."""

from chainrule.utils import data

__all__ = ["data"]
