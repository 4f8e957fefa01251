"""``torch.nn.parallel``'s place: :class:`~chainrule.distributed.DistributedDataParallel`
(defined in :mod:`chainrule.distributed`, loaded on first use).

```pycon
>>> from chainrule.nn.parallel import DistributedDataParallel
>>> DistributedDataParallel.__module__
'chainrule.distributed.data_parallel'

```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chainrule.distributed.data_parallel import DistributedDataParallel

__all__ = ["DistributedDataParallel"]


def __getattr__(name: str) -> Any:
    # Imported on first use: chainrule.distributed.data_parallel imports chainrule.nn itself.
    if name == "DistributedDataParallel":
        from chainrule.distributed.data_parallel import DistributedDataParallel

        return DistributedDataParallel
    raise AttributeError(f"module 'chainrule.nn.parallel' has no attribute {name!r}")
