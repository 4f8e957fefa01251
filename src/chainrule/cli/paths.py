"""Checks of the files and folders a command reads and writes, made before any work starts.

A run that trains for an hour must not learn only at the end that its model cannot be written:
each check here fails at once with an OSError whose message names the path, what it is for,
and what is wrong with it.
"""

from __future__ import annotations

import os
from pathlib import Path


def input_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a Path, if a file exists there (``what`` names it: "model file")."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"the {what} {str(path)!r} is a folder, not a file")
    if not path.exists():
        raise FileNotFoundError(f"the {what} {str(path)!r} does not exist")
    return path


def output_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a Path, if a file can be written there: it is not a folder, and its folder
    exists and is writable."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"cannot write the {what} {str(path)!r}: it is a folder; give a file name"
        )
    _writable_folder(path.parent, f"the {what} {str(path)!r}")
    return path


def output_folder(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a Path to a writable folder, made (with its parents) if it is missing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"the {what} {str(path)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or str(error)
        raise type(error)(f"cannot make the {what} {str(path)!r}: {reason}") from None
    _writable_folder(path, f"files in the {what} {str(path)!r}")
    return path


def _writable_folder(folder: Path, target: str) -> None:
    folder = folder if str(folder) else Path(".")
    if not folder.exists():
        raise FileNotFoundError(f"cannot write {target}: there is no folder {str(folder)!r}")
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write {target}: {str(folder)!r} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {target}: the folder {str(folder)!r} is read-only")
