"""Output paths that never destroy an input, and writes that never follow a symlink.

Every file a command writes goes through :func:`check_output` (the path is usable and is
none of the command's inputs, compared by resolved path and by inode, so a hard link or a
``./`` spelling does not slip through) and :func:`write_atomic` (a temporary file in the
same folder, then ``os.replace``: a planted symlink is replaced, never followed, and a crash
leaves the old file or the new one, never half of one). Files get the mode of the user's
umask, as ``open()`` would give them, not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from specc.errors import RunError

__all__ = ["check_output", "file_mode", "same_file", "temp_beside", "write_atomic"]


def file_mode() -> int:
    """The mode a new file gets under the current umask (0o644 for the usual 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name one file: the same resolved path or the same inode."""
    try:
        if Path(a).resolve() == Path(b).resolve():
            return True
        return Path(a).exists() and Path(b).exists() and os.path.samefile(a, b)
    except (OSError, RuntimeError):
        return False


def check_output(
    path: Path | str, option: str, inputs: Iterable[Path | str] = (), make_parent: bool = False
) -> Path:
    """``path`` as a Path, once it is known to be a writable place for a new file.

    Args:
        path: the output path the user gave.
        option: how to name it in messages (``-o``).
        inputs: the command's input files; the output may be none of them.
        make_parent: create a missing parent folder instead of refusing.

    Raises:
        RunError: exit 2 for an empty path, a folder or an input; exit 1 for a missing or
            read-only parent folder.
    """
    if str(path).strip() == "":
        raise RunError(f"{option} is empty; give a file name", exit_code=2)
    path = Path(path)
    for source in inputs:
        if same_file(path, Path(source)):
            raise RunError(
                f"{option} {path} is an input of this command ({source}); "
                "writing there would destroy it. Choose another output",
                exit_code=2,
            )
    if path.is_dir():
        raise RunError(f"{option} {path} is a folder; give a file name", exit_code=2)
    parent = path.parent
    if make_parent:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create the folder {parent}: {exc.strerror or exc}") from None
    if not parent.is_dir():
        raise RunError(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunError(f"{option} {path}: the folder {parent} is not writable")
    return path


@contextmanager
def temp_beside(path: Path) -> Iterator[Path]:
    """A temporary path in ``path``'s folder, moved onto ``path`` when the block succeeds
    (removed when it fails); the file gets :func:`file_mode`."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`temp_beside`."""
    with temp_beside(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8", newline="")
        else:
            tmp.write_bytes(data)
