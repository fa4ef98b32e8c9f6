"""Writing output files: atomically, with the permissions the umask gives."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._errors import InputError


def writable_target(path: str | os.PathLike, where: str) -> Path:
    """`path` as a `Path` whose folder exists and which is not a folder itself, or an
    `InputError` naming `where`."""
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{where} {target}: is a folder; give a file name.")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"{where} {target}: the folder {folder} does not exist; create it first.")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{where} {target}: the folder {folder} is not writable.")
    return target


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` via a temporary file in the same folder and a rename: never a
    half-written file. The file gets the permissions a plain `open(path, "w")` would (the
    umask's), not the temporary file's 0600; the temporary file is removed on any error or
    interruption."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
