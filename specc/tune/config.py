"""What one ``specc tune`` is: the spec, the search space, the trial budget and where the
study lives; stored as ``DIR/tune.json`` so that ``--resume DIR`` needs nothing else."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from specc.errors import RunError

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["CONFIG_FILE", "TuneConfig", "direction_of", "monitor_of"]

CONFIG_FILE = "tune.json"


@dataclass
class TuneConfig:
    """One tune. ``storage`` is an Optuna RDB URL (default: ``sqlite:///DIR/study.db``);
    ``epochs`` overrides ``train.epochs`` in every trial; ``timeout`` (seconds) stops
    starting new trials."""

    spec_path: str
    searches: list[str]
    trials: int
    out: str
    storage: str | None = None
    epochs: int | None = None
    workers: int = 1
    timeout: float | None = None
    started: float = field(default_factory=time.time)

    @property
    def out_dir(self) -> Path:
        return Path(self.out)

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.out_dir / 'study.db').resolve()}"

    @property
    def owns_storage(self) -> bool:
        """The study file lives in DIR: no other tune uses it while this one runs."""
        return self.storage is None

    def save(self) -> None:
        from specc.rundir import write_json

        stored = {
            k: v for k, v in asdict(self).items() if k not in ("workers", "timeout", "started")
        }
        stored["spec_path"] = str(Path(self.spec_path).resolve())  # --resume from anywhere
        write_json(self.out_dir / CONFIG_FILE, stored)

    @classmethod
    def load(cls, out_dir: Path, **changes: object) -> TuneConfig:
        """The config stored in ``out_dir`` with ``changes`` (those not None) applied."""
        path = Path(out_dir) / CONFIG_FILE
        if not path.exists():
            raise RunError(f"{out_dir} is not a tune folder (no {CONFIG_FILE})", exit_code=2)
        stored = _read_stored(path)
        stored |= {k: v for k, v in changes.items() if v is not None}
        return cls(**stored | {"out": str(out_dir)})

    def same_study(self, other: TuneConfig) -> None:
        """RunError when ``other`` (the stored tune in DIR) searches a different space."""
        if sorted(self.searches) != sorted(other.searches):
            raise RunError(
                f"{self.out} holds a tune of another search space "
                f"({' '.join(other.searches)}); continue it with --resume "
                f"{self.out} or choose another --out",
                exit_code=2,
            )


_STORED_TYPES: dict[str, type | tuple[type, ...]] = {
    "spec_path": str,
    "searches": list,
    "trials": int,
    "storage": (str, type(None)),
    "epochs": (int, type(None)),
}


def _read_stored(path: Path) -> dict:
    """The fields ``save`` wrote; RunError for a file that is not one (edited, truncated)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{path} cannot be read as a tune's settings: {exc}") from None
    if not isinstance(stored, dict):
        raise RunError(f"{path} is not a tune's settings: expected a JSON object")
    for key, kind in _STORED_TYPES.items():
        if key in ("spec_path", "searches", "trials") and key not in stored:
            raise RunError(f"{path} is not a tune's settings: it has no '{key}'")
        if key in stored and (not isinstance(stored[key], kind) or isinstance(stored[key], bool)):
            raise RunError(f"{path} is not a tune's settings: '{key}' is {stored[key]!r}")
    if not all(isinstance(s, str) for s in stored["searches"]) or stored["trials"] < 1:
        raise RunError(f"{path} is not a tune's settings: bad 'searches' or 'trials'")
    return {k: v for k, v in stored.items() if k in _STORED_TYPES}


def monitor_of(spec: Spec) -> str:
    """The metric the trials are ranked on: ``train.monitor`` when set, else ``val_loss``
    (``train_loss`` without a validation split), as best.pt picks it."""
    assert spec.train is not None and spec.data is not None, "require_sections() checked them"
    if "monitor" in spec.train.model_fields_set:
        return spec.train.monitor
    return "val_loss" if spec.data.split.val else "train_loss"


def direction_of(monitor: str) -> str:
    """``minimize`` for losses and errors, ``maximize`` for scores (accuracy, r2...)."""
    from specc.train.plan import infer_mode

    return "minimize" if infer_mode(monitor) == "min" else "maximize"
