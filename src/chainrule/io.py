"""Save and load tensors and checkpoints as safetensors files: named arrays, no code, no pickle.

A safetensors file is an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and byte range, plus an optional ``__metadata__`` map of strings) and the raw
bytes. Loading one runs no code, and PyTorch reads the same file with
``safetensors.torch.load_file``, so a chainrule model and its PyTorch twin share weights.

:func:`save` takes what ``torch.save`` is mostly given: a state dict, or a checkpoint such as
``{"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict()}``. A flat dict
of named tensors is stored as it is. Anything else (nested dicts, lists and tuples of tensors,
numbers, strings, bools and None) keeps its tensors in the body and its structure as JSON in
the metadata entry ``"chainrule.object"`` (see :mod:`chainrule.saved_objects`), which
:func:`load` reads back into the same object.

Both stream: :func:`save` writes the header and then one tensor at a time to a temporary file
that replaces the target only when complete; :func:`load` reads the header, checks it, and then
reads only the bytes it declares, each tensor straight into its own array. A file that cannot
be loaded, for whatever reason, is a :class:`LoadError` naming it and the reason.

```pycon
>>> from chainrule import nn
>>> model = nn.Linear(3, 2)
>>> save(model.state_dict(), "linear.safetensors")  # doctest: +SKIP
>>> model.load_state_dict(load("linear.safetensors"))  # doctest: +SKIP

```
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from chainrule import backend, devices, saved_objects
from chainrule import safetensors_format as st
from chainrule.creation import from_numpy
from chainrule.files import atomic_write
from chainrule.tensor import Tensor

ORDER_KEY = "chainrule.key_order"
"""Metadata entry holding the keys in their saved order (safetensors stores them sorted)."""

OBJECT_KEY = "chainrule.object"
"""Metadata entry holding the structure of a saved object that is not a flat dict of tensors."""

DEVICES_KEY = "chainrule.devices"
"""Metadata entry of a flat dict saved with tensors on a GPU: ``{name: "cuda:0"}`` for each of
them (JSON), so that :func:`load` puts them back there, as ``torch.load`` does. The bytes in
the file are host copies, which any safetensors reader takes."""

File = str | os.PathLike[str] | io.IOBase | Any
"""A path, or a binary file object (``open(path, "wb")``, ``io.BytesIO()``)."""


class LoadError(ValueError):
    """A file that chainrule cannot load: missing, not a regular file, not safetensors,
    damaged, or holding something chainrule cannot rebuild.

    ``path`` is the file's path (None for a file object), ``reason`` says what is wrong, and
    the message is one line: ``load: 'model.safetensors': <reason>``, or for a file object
    ``load: file object 'model.safetensors': <reason>`` (its name, if it has one).

    ```pycon
    >>> import io
    >>> import chainrule as cr
    >>> try:
    ...     cr.load(io.BytesIO(b"not safetensors"))
    ... except cr.io.LoadError as error:
    ...     print(type(error).__name__)
    LoadError

    ```
    """

    def __init__(self, where: str, path: str | None, reason: str, label: str | None = None):
        self.where, self.path, self.reason, self.label = where, path, reason, label
        shown = repr(path) if label is None else label
        super().__init__(" ".join(f"{where}: {shown}: {reason}".splitlines()))

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> Any:
        return type(self), (self.where, self.path, self.reason, self.label)


class MissingFileError(LoadError, FileNotFoundError):
    """A file that does not exist: both a :class:`LoadError` and a ``FileNotFoundError``.

    ```pycon
    >>> import chainrule as cr
    >>> try:
    ...     cr.load("no/such/file.safetensors")
    ... except FileNotFoundError as error:
    ...     print(isinstance(error, cr.io.MissingFileError))
    True

    ```
    """

    def __init__(
        self, where: str, path: str | None, reason: str = "no such file", label: str | None = None
    ):
        super().__init__(where, path, reason, label)
        self.errno, self.strerror, self.filename = errno.ENOENT, reason, path


# ---- saving --------------------------------------------------------------------------------------


def save(obj: Any, f: File, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``obj`` to ``f`` (a path, written atomically, or a binary file object) as a
    safetensors file.

    ``obj`` is a dict of named tensors or NumPy arrays (``model.state_dict()``), stored as
    such, or any nesting of dicts, lists and tuples of tensors, arrays, numbers, strings,
    bools and None (an optimizer's ``state_dict()``, a checkpoint). Anything else, a whole
    Module for instance, is a TypeError that says what to save instead.

    ``metadata`` (str -> str) is stored in the header, and :func:`load_metadata` reads it.
    A path is written through a temporary file beside it that replaces it when complete
    (:func:`chainrule.files.atomic_write`), one tensor at a time: saving holds no second copy
    of the model in memory.

    ```pycon
    >>> import io
    >>> import chainrule as cr
    >>> buffer = io.BytesIO()
    >>> cr.save({"w": cr.tensor([1.0, 2.0])}, buffer)
    >>> _ = buffer.seek(0)
    >>> cr.load(buffer)["w"].tolist()
    [1.0, 2.0]

    ```
    """
    is_path = isinstance(f, (str, os.PathLike))
    if not is_path and not callable(getattr(f, "write", None)):
        raise TypeError(f"save: f must be a path or a binary file object, got {type(f).__name__}")
    header = {} if metadata is None else dict(metadata)
    for key, value in header.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"save: metadata must map str to str, got {key!r}: {type(value).__name__}"
            )
    for reserved in (ORDER_KEY, OBJECT_KEY, DEVICES_KEY):
        if reserved in header:
            raise ValueError(f"save: the metadata key {reserved!r} is reserved by chainrule")
    if _is_flat(obj):
        arrays = {key: saved_objects.array_of(value, repr(key)) for key, value in obj.items()}
        header[ORDER_KEY] = json.dumps(list(arrays))
        on_devices = {
            key: saved_objects.device_name(array)
            for key, array in arrays.items()
            if type(array) is not np.ndarray
        }
        if on_devices:
            header[DEVICES_KEY] = json.dumps(on_devices)
    else:
        packer = saved_objects.Packer()
        structure = packer.encode(obj, "obj", "")
        header[OBJECT_KEY] = json.dumps({"format": saved_objects.FORMAT, "value": structure})
        arrays = packer.arrays
    try:
        head, names = st.encode_header(arrays, header)
    except UnicodeEncodeError as error:  # a lone surrogate in a name or a metadata value
        raise ValueError(f"save: a name or metadata value is not valid Unicode: {error}") from None
    if is_path:
        with atomic_write(f, "wb") as handle:
            _write(handle, head, arrays, names)
    else:
        _write(f, head, arrays, names)


def _write(stream: Any, head: bytes, arrays: dict[str, Any], names: list[str]) -> None:
    st.write_all(stream, memoryview(head))
    st.write_arrays(stream, arrays, names, backend.to_numpy)


def _is_flat(obj: Any) -> bool:
    """A dict of str to arrays: the format of state dicts, stored as a plain safetensors file."""
    return (
        isinstance(obj, Mapping)
        and "__metadata__" not in obj  # the header's own entry: the packer renames it
        and all(
            isinstance(key, str)
            and (isinstance(value, (Tensor, np.ndarray, np.generic)) or backend.is_array(value))
            for key, value in obj.items()
        )
    )


# ---- loading -------------------------------------------------------------------------------------


def load(
    f: File,
    map_location: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
) -> Any:
    """Read what :func:`save` wrote to ``f`` (a path or a binary file object): a dict of
    tensors in the order the names were saved (files from other writers come in the order
    their header lists them), or the nested object that was saved.

    ``map_location`` says where the tensors (and arrays) come back, as in ``torch.load``: None
    puts each back on the device it was saved from (the CPU for files of other writers),
    ``"cpu"``, ``"cuda"`` or a :class:`chainrule.device` puts all there, and a dict such as
    ``{"cuda:0": "cpu"}`` maps saved devices to others. A file saved from a GPU loads on a
    machine without one with ``map_location="cpu"``. ``weights_only`` is accepted: loading
    never runs code, so ``weights_only=True`` and ``False`` read files alike. ``mmap`` is
    accepted and ignored: each tensor is read into memory of its own, once.

    The header is read and checked first, and then only the bytes it declares. Any file that
    cannot be loaded is a :class:`LoadError` (a ValueError) naming it and the reason; a
    missing one is a :class:`MissingFileError`, also a FileNotFoundError.

    ```pycon
    >>> import io
    >>> import chainrule as cr
    >>> buffer = io.BytesIO()
    >>> cr.save({"step": 3, "scores": [cr.tensor([0.5])]}, buffer)
    >>> _ = buffer.seek(0)
    >>> loaded = cr.load(buffer)
    >>> loaded["step"], loaded["scores"][0].tolist()
    (3, [0.5])

    ```
    """
    place = _placement(map_location)
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"load: weights_only must be a bool or None, got {weights_only!r}")
    with _opened(f, "load") as (stream, available, fail):
        try:
            header = st.read_header(stream, available)
            metadata = header.metadata
            structure = order = None
            saved_on = _saved_devices(metadata.get(DEVICES_KEY))
            # The structure is checked before a byte of tensor data is read.
            if OBJECT_KEY in metadata:
                structure = saved_objects.parse(metadata[OBJECT_KEY])
            elif ORDER_KEY in metadata:
                order = _saved_order(metadata[ORDER_KEY], header)
            arrays = st.read_arrays(stream, header)
            if structure is not None:
                return saved_objects.Unpacker(arrays, place).decode(structure)
        except st.FormatError as error:
            raise fail(str(error)) from None
        except saved_objects.MalformedStructureError as error:
            at = f" at {error.where}" if error.where else ""
            raise fail(f"malformed {OBJECT_KEY!r} structure{at}: {error.reason}") from None
        except RecursionError:
            raise fail(f"its {OBJECT_KEY!r} structure is nested too deeply") from None
    return {key: _tensor(place(arrays[key], saved_on.get(key))) for key in order or arrays}


def _tensor(array: Any) -> Tensor:
    if type(array) is np.ndarray:
        return from_numpy(array)
    return Tensor._make(array, False, None)


def _saved_devices(text: str | None) -> dict[str, str]:
    """The devices that :data:`DEVICES_KEY` records (none: every tensor was on the CPU)."""
    if text is None:
        return {}
    try:
        found = json.loads(text)
    except (ValueError, RecursionError):
        found = None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise st.FormatError(f"its {DEVICES_KEY!r} entry is not a JSON object of device names")
    return found


def _saved_order(text: str, header: st.Header) -> list[str]:
    """The saved key order, which must list the header's names, each once."""
    try:
        order = json.loads(text)
    except (ValueError, RecursionError):
        order = None
    if not isinstance(order, list) or not all(isinstance(key, str) for key in order):
        raise st.FormatError(f"its {ORDER_KEY!r} entry is not a JSON list of names")
    names = [entry.name for entry in header.entries]
    if sorted(order) != sorted(names):
        raise st.FormatError(
            f"its {ORDER_KEY!r} entry lists {len(order)} names that are not those of its "
            f"{len(names)} tensors, each once"
        )
    return order


def load_metadata(f: File) -> dict[str, str]:
    """The ``metadata`` given to :func:`save` (or by another writer), without reading tensors.

    Reads and checks the header only; a file that is not valid safetensors is a LoadError.

    ```pycon
    >>> import io
    >>> import chainrule as cr
    >>> buffer = io.BytesIO()
    >>> cr.save({"w": cr.zeros(2)}, buffer, metadata={"epoch": "7"})
    >>> _ = buffer.seek(0)
    >>> cr.io.load_metadata(buffer)["epoch"]
    '7'

    ```
    """
    with _opened(f, "load_metadata") as (stream, available, fail):
        try:
            header = st.read_header(stream, available)
        except st.FormatError as error:
            raise fail(str(error)) from None
    reserved = (ORDER_KEY, OBJECT_KEY, DEVICES_KEY)
    return {k: v for k, v in header.metadata.items() if k not in reserved}


@contextlib.contextmanager
def _opened(f: File, where: str) -> Iterator[tuple[Any, int | None, Any]]:
    """``f`` open for reading: the stream, how many bytes it holds (None if unknown), and a
    function making the LoadError for a reason. A path must name a regular file: a
    directory, a device or a pipe is refused before it is opened, so that nothing is read
    from it. An OSError while reading becomes a LoadError too."""
    if isinstance(f, (str, os.PathLike)):
        path = os.fsdecode(f)

        def fail(reason: str) -> LoadError:
            return LoadError(where, path, reason)

        stream, available = _open_regular(path, where, fail)
    elif callable(getattr(f, "read", None)):
        name = getattr(f, "name", None)
        label = f"file object {name!r}" if isinstance(name, str) else "a file object"
        label += f" ({type(f).__name__})"

        def fail(reason: str) -> LoadError:
            return LoadError(where, None, reason, label=label)

        stream, available = f, _remaining(f)
    else:
        raise TypeError(
            f"{where}: f must be a path or a binary file object, got {type(f).__name__}"
        )
    try:
        yield stream, available, fail
    except OSError as error:
        if isinstance(error, LoadError):
            raise
        raise fail(f"cannot be read ({_describe(error)})") from None
    except st.NotBinaryError as error:  # a file object in text mode
        raise TypeError(f"{where}: {error}") from None
    finally:
        if stream is not f:
            stream.close()


def _open_regular(path: str, where: str, fail: Any) -> tuple[Any, int]:
    """An unbuffered binary stream of the regular file at ``path``, and its size."""
    with _os_errors(where, path, fail):
        _check_regular(os.stat(path).st_mode, fail)
        # O_NONBLOCK: if a pipe took the file's place since the stat, opening it does not wait
        # for a writer, and the check of the open file refuses it.
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
        descriptor = os.open(path, flags | getattr(os, "O_NOCTTY", 0))
    stream = open(descriptor, "rb", buffering=0)  # noqa: SIM115 (closed by _opened)
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        stream.close()
        _check_regular(info.st_mode, fail)
    return stream, info.st_size


@contextlib.contextmanager
def _os_errors(where: str, path: str, fail: Any) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        raise MissingFileError(where, path) from None
    except LoadError:
        raise
    except OSError as error:
        raise fail(_describe(error)) from None
    except ValueError as error:  # a path with a NUL byte
        raise fail(f"is not a valid path ({error})") from None


def _check_regular(mode: int, fail: Any) -> None:
    if stat.S_ISDIR(mode):
        raise fail("is a directory")
    kinds = [
        (stat.S_ISREG, ""),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
    ]
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    if kind:
        raise fail(f"is not a regular file but {kind}")


def _describe(error: OSError) -> str:
    return error.strerror.lower() if error.strerror else str(error)


def _remaining(stream: Any) -> int | None:
    """The bytes a file object holds from its position on, if it can say (a real file, a
    BytesIO); None for a pipe or a socket, which are then read only as far as declared."""
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    return max(end - here, 0) if isinstance(end, int) and isinstance(here, int) else None


def _placement(map_location: Any) -> Callable[[np.ndarray, str | None], Any]:
    """A function ``place(array, saved_device)`` that moves a host array read from a file to
    where ``map_location`` sends data saved on ``saved_device`` (None: the CPU)."""
    if callable(map_location) and not isinstance(map_location, devices.device):
        raise TypeError(
            "load: map_location as a function is not supported (chainrule has no storages to "
            "pass it); pass None, 'cpu', 'cuda', a device or a dict of device names"
        )
    if isinstance(map_location, Mapping):
        mapping = {_device(k, "a key of map_location"): v for k, v in map_location.items()}
        mapping = {k: _device(v, "a value of map_location") for k, v in mapping.items()}
    elif map_location is not None:
        target = _device(map_location, "map_location")
    modules: dict[str, Any] = {}

    def place(array: np.ndarray, saved: str | None) -> Any:
        where = devices.CPU if saved is None else _device(saved, "a saved device")
        if isinstance(map_location, Mapping):
            where = mapping.get(where, where)
        elif map_location is not None:
            where = target
        if where.type == "cpu":
            return array
        module = modules.get(str(where))
        if module is None:
            try:
                module = devices.module_for(devices.check(where, "load"), "load")
            except RuntimeError as error:
                if map_location is not None:
                    raise
                raise RuntimeError(
                    f"{error}. The file was saved from '{saved}'; to load it on this machine "
                    "pass map_location='cpu'"
                ) from None
            modules[str(where)] = module
        return backend.transfer(array, module)

    return place


def _device(value: Any, what: str) -> devices.device:
    """``value`` (a device or its name) as a device; a ValueError naming ``what`` if it is none."""
    try:
        found = value if isinstance(value, devices.device) else devices.device(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(
            f"load: {what} must name a device ('cpu', 'cuda'), got {value!r} ({error})"
        ) from None
    if found.type == "cpu":
        return devices.CPU
    # "cuda" is the current GPU, cuda:0: chainrule computes on one GPU per process.
    return found if found.index is not None else devices.device(found.type, 0)
