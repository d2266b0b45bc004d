"""Write the shipped MNIST IDX images as PNG class folders, for specs/mnist_folder.yaml.

    python specs/data/mnist_to_png.py            # -> specs/data/mnist_png/<digit>/<index>.png

Each image keeps its 28x28 grey pixels exactly (PNG is lossless) and is named by its row in
the IDX file, so the folder holds the same samples as the ``mnist`` source.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def write_pngs(out: Path, rows=None, idx_folder: Path = HERE / "mnist") -> int:
    """Write the IDX images at ``rows`` (default: all) to ``out/<label>/<row>.png``."""
    from PIL import Image

    from specc.data.idx import find_idx_pair, read_idx

    pair = find_idx_pair(idx_folder, "t10k") or find_idx_pair(idx_folder, "train")
    images, labels = read_idx(pair[0], 3), read_idx(pair[1], 1)
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    for digit in np.unique(labels[rows]):
        (out / str(digit)).mkdir(parents=True, exist_ok=True)
    for row in rows.tolist():
        Image.fromarray(images[row]).save(out / str(labels[row]) / f"{row:05d}.png")
    return len(rows)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "mnist_png"
    print(f"wrote {write_pngs(target)} images to {target}")
