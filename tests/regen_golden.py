"""Regenerate the golden model and train files: ``.venv/bin/python tests/regen_golden.py``.

Run it after an intended change to the generated source, then review ``git diff
tests/golden`` before committing. tests/test_compiler.py compares against these files
(tests/test_train_source.py against the train.py ones).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = {  # fixture spec (tests/specs) -> golden file (tests/golden)
    "lenet.yaml": "lenet_model.py",
    "residual.yaml": "residual_model.py",
    "recurrent.yaml": "recurrent_model.py",
}

GOLDEN_TRAIN = {  # fixture spec (relative to the repository) -> golden train.py (tests/golden)
    "tests/specs/train_tabular.yaml": "tabular_train.py",
    "tests/specs/train_images.yaml": "images_train.py",
}


def golden_source(spec_name: str) -> str:
    """The rendered model.py of ``tests/specs/<spec_name>``, named as ``tests/specs/...``."""
    from specc import render_source
    from specc.spec.validate import check_text

    text = (HERE / "specs" / spec_name).read_text(encoding="utf-8")
    spec, errors = check_text(text, f"tests/specs/{spec_name}")
    if errors:
        raise SystemExit("\n".join(e.message for e in errors))
    return render_source(spec)


def golden_train_source(spec_path: str) -> str:
    """The train.py of a fixture spec as if emitted into tests/golden (both paths relative
    to the repository root, so the data path is ``HERE / "../../specs/data/..."``)."""
    from specc.backends.train_source import render_train_source
    from specc.spec.validate import check_text

    text = (HERE.parent / spec_path).read_text(encoding="utf-8")
    spec, errors = check_text(text, spec_path)
    if errors:
        raise SystemExit("\n".join(e.message for e in errors))
    return render_train_source(spec, "tests/golden")


def main() -> int:
    for spec_name, golden in GOLDEN.items():
        path = HERE / "golden" / golden
        path.write_text(golden_source(spec_name), encoding="utf-8")
        sys.stdout.write(f"wrote {path.relative_to(HERE.parent)}\n")
    for spec_path, golden in GOLDEN_TRAIN.items():
        path = HERE / "golden" / golden
        path.write_text(golden_train_source(spec_path), encoding="utf-8")
        sys.stdout.write(f"wrote {path.relative_to(HERE.parent)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
