"""Image files on disk: listing class folders, a cheap integrity check, and decoding with Pillow.

Nothing here imports torch, so ``specc predict`` decodes images exactly as validation does
with Pillow and numpy alone.

- :func:`list_folder` lists ``DIR/<class>/<file>`` (classes and files in sorted order, only
  the configured extensions); paths are kept as one numpy bytes array (no per-path Python
  object, so DataLoader workers forked from the trainer do not copy it page by page).
- :func:`check_file` recognises the file from its first bytes (PNG, JPEG, BMP, WebP; anything
  else must open with Pillow) and checks that a PNG ends with its ``IEND`` chunk and a JPEG
  with its end-of-image marker, so a non-image or truncated file is found before training,
  not in epoch 7. (A file whose compressed pixels are garbled inside an intact frame is only
  found when decoded; :mod:`specc.data.image_split` then names it.)
- :class:`Recipe` / :func:`decode`: one file -> uint8 pixels (C, H, W). The default brings an
  image to H x W like torchvision's ``Resize`` + ``CenterCrop``: scaled (aspect kept,
  bilinear with Pillow's antialiasing) to the smallest size that covers H x W, then the
  centre H x W is cut out. With a ``resize`` step in ``data.transforms`` the image is resized
  to exactly that size instead. JPEGs are decoded at a reduced size where that loses nothing
  (Pillow's draft mode: 1/2, 1/4, 1/8 scale, never below the size needed).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["Listing", "Recipe", "check_file", "decode", "inspect", "list_folder"]

_TAIL = {"PNG": (b"IEND\xaeB`\x82", 12), "JPEG": (b"\xff\xd9", 64)}


@dataclass
class Listing:
    """The image files of one folder tree.

    Attributes:
        root: the folder (``DIR``); ``paths`` are relative to it.
        paths: relative paths ``class/file`` as a bytes array (N,), class-major, sorted.
        labels: class index of each file, int64 (N,).
        classes: the class folder names found, sorted.
        empty: class folders that hold no file with a listed extension.
    """

    root: Path
    paths: np.ndarray
    labels: np.ndarray
    classes: list[str]
    empty: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def path(self, i: int) -> str:
        """The full path of file ``i``."""
        return os.path.join(self.root, os.fsdecode(self.paths[i]))

    def keep(self, rows: np.ndarray) -> Listing:
        """The listing of the files at ``rows`` only."""
        return Listing(self.root, self.paths[rows], self.labels[rows], self.classes, self.empty)


def _suffixes(extensions: list[str]) -> tuple[str, ...]:
    return tuple("." + e.lower().lstrip(".") for e in extensions)


def list_folder(root: Path, extensions: list[str], classes: list[str] | None = None) -> Listing:
    """List ``root/<class>/<file>`` for files whose suffix is one of ``extensions``.

    Args:
        classes: the class names to number files by (a validation or test folder uses the
            training folder's); None: the sorted sub-folders of ``root``.
    """
    suffixes = _suffixes(extensions)
    found = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    index = {name: i for i, name in enumerate(classes if classes is not None else found)}
    paths, labels, empty = [], [], []
    for name in found:
        files = sorted(
            e.name
            for e in os.scandir(root / name)
            if e.name.lower().endswith(suffixes) and e.is_file()
        )
        if not files:
            empty.append(name)
        label = index.get(name, -1)
        paths += [os.fsencode(f"{name}/{f}") for f in files]
        labels += [label] * len(files)
    return Listing(
        Path(root), np.array(paths, dtype=np.bytes_), np.array(labels, dtype=np.int64), found, empty
    )


def _sniff(head: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) from a file's first 32 bytes for PNG, JPEG, BMP and WebP
    (width/height -1 where the header does not hold them up front), else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return "PNG", int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG", -1, -1  # the size sits in a SOF segment somewhere after the tables
    if head.startswith(b"BM") and len(head) >= 26:
        return (
            "BMP",
            int.from_bytes(head[18:22], "little", signed=True),
            abs(int.from_bytes(head[22:26], "little", signed=True)),
        )
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP", -1, -1
    return None


def check_file(path: str) -> str | None:
    """Why ``path`` is not a readable image (None when it looks whole); see :func:`inspect`."""
    return inspect(path)[0]


def inspect(path: str) -> tuple[str | None, int]:
    """``(why the file is not a readable image or None, its size in bytes or -1)``.

    PNG, JPEG, BMP and WebP are recognised from their first bytes (PNG and BMP sizes read
    from the header) and PNG / JPEG must end with their end marker; any other file must open
    with Pillow (which reads its header). One open, no pixel decoded.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            known = _sniff(handle.read(32))
            if known is None:
                return _pillow_check(path), size
            kind, width, height = known
            if kind in _TAIL:
                marker, span = _TAIL[kind]
                handle.seek(max(0, size - span))
                if marker not in handle.read():
                    return f"truncated (the {kind} end marker is missing)", size
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})", -1
    if width == 0 or height == 0:
        return f"has size {width}x{height}", size
    return None, size


def _pillow_check(path: str) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except UnidentifiedImageError:
        return "not an image Pillow can read"
    except (OSError, ValueError, SyntaxError) as exc:  # SyntaxError: Pillow's parse errors
        return f"unreadable ({exc})"
    return None if width > 0 and height > 0 else f"has size {width}x{height}"


@dataclass(frozen=True)
class Recipe:
    """How a file becomes pixels: Pillow mode ``L`` or ``RGB``, the size (H, W), and the fit:
    ``cover`` (aspect kept, then centre crop) or ``exact`` (resized to H x W)."""

    mode: str
    size: tuple[int, int]
    fit: str = "cover"

    @property
    def shape(self) -> list[int]:
        """The decoded sample shape [C, H, W]."""
        return [1 if self.mode == "L" else 3, *self.size]

    def to_state(self) -> dict:
        """Plain data for the run's preprocessing state and the ONNX metadata."""
        return {**asdict(self), "size": list(self.size)}

    @classmethod
    def from_state(cls, state: dict) -> Recipe:
        return cls(state["mode"], (int(state["size"][0]), int(state["size"][1])), state["fit"])


def _cover(width: int, height: int, size: tuple[int, int]) -> tuple[int, int]:
    """The smallest (w, h) with the aspect of ``width x height`` that covers ``size``."""
    scale = max(size[0] / height, size[1] / width)
    return max(size[1], math.ceil(width * scale - 1e-6)), max(
        size[0], math.ceil(height * scale - 1e-6)
    )


def decode(path: str, recipe: Recipe) -> np.ndarray:
    """Pixels of the image at ``path``: uint8 (C, H, W) with C, H, W from ``recipe``.

    Raises:
        OSError, ValueError: the file cannot be decoded.
    """
    from PIL import Image

    height, width = recipe.size
    with Image.open(path) as opened:
        if recipe.fit == "cover":
            need = _cover(*opened.size, recipe.size)
        else:
            need = (width, height)
        if opened.format == "JPEG":
            opened.draft(recipe.mode, need)  # decode at 1/2, 1/4, 1/8 scale when still >= need
        image = opened.convert(recipe.mode)
        if recipe.fit == "cover":
            image = _resize_crop(image, recipe.size)
        elif image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        pixels = np.asarray(image)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def _resize_crop(image: PIL.Image.Image, size: tuple[int, int]) -> PIL.Image.Image:
    from PIL import Image

    height, width = size
    w, h = _cover(*image.size, size)
    if (w, h) != image.size:
        image = image.resize((w, h), Image.Resampling.BILINEAR)
    left, top = (w - width) // 2, (h - height) // 2
    if (w, h) != (width, height):
        image = image.crop((left, top, left + width, top + height))
    return image
