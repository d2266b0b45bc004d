"""Reading MNIST-style IDX files (gzipped or not) with numpy only.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian int32 per dimension, then the values. Only unsigned bytes (code 0x08) are
needed for MNIST.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import numpy as np

from specc.data.problems import raise_io

__all__ = ["find_idx_pair", "read_idx"]

_UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes.

    Args:
        path: the file, gzipped when its name ends in ``.gz`` or its bytes start like gzip.
        ndim: the expected number of dimensions (3 for images, 1 for labels).

    Returns:
        uint8 array of the file's shape, e.g. (N, 28, 28) or (N,).
    """
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _UBYTE or data[3] != ndim:
        raise_io(
            f"{path} is not an IDX file of {ndim}-D unsigned bytes "
            f"(magic number {data[:4].hex() or 'missing'}, expected 000008{ndim:02x})"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise_io(f"{path} is truncated: the IDX header is incomplete")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise_io(
            f"{path} is corrupt: the header promises {dims} values ({expected} bytes) "
            f"but the file has {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise_io(f"cannot read {path}: {exc.strerror or exc}")
    if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            return _inflate(raw, path)
        except (OSError, EOFError, zlib.error) as exc:
            raise_io(f"{path} is not a valid gzip file ({exc})")
    return raw


def _inflate(raw: bytes, path: Path) -> bytes:
    """Decompress in 1 MB steps, stopping once the output passes the data size limit."""
    from specc.limits import check_data_size, data_limit

    limit = data_limit()
    parts, size = [], 0
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
        while chunk := stream.read(2**20):
            size += len(chunk)
            if size > limit:
                check_data_size(size, str(path))
            parts.append(chunk)
    return b"".join(parts)


def find_idx_pair(folder: Path, prefix: str) -> tuple[Path, Path] | None:
    """The ``<prefix>-images`` and ``<prefix>-labels`` IDX files in ``folder``, or None.

    Accepts ``train-images-idx3-ubyte``, ``train-images.idx3-ubyte`` and their ``.gz`` forms;
    an uncompressed file wins over a gzipped one.
    """
    images = _pick(folder, f"{prefix}-images*idx3*")
    labels = _pick(folder, f"{prefix}-labels*idx1*")
    return (images, labels) if images and labels else None


def _pick(folder: Path, pattern: str) -> Path | None:
    found = sorted(p for p in folder.glob(pattern) if p.is_file())
    found.sort(key=lambda p: p.suffix == ".gz")
    return found[0] if found else None
