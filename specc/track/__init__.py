"""Experiment tracking: ``train.log: [tensorboard, mlflow]``.

Each tracker is a training callback (:meth:`attach` once the run folder exists,
:meth:`epoch` after each epoch's checkpoint and metrics row, :meth:`finish` with the
summary once the run and its ONNX export are written, :meth:`close` always). Both are
optional extras; a spec that asks for one that is not installed fails before training with
an error naming the extra (``pip install 'specc[tensorboard]'``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from specc.errors import RunError

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["Tracker", "Trackers", "hyperparameters", "require_extra"]

# feature -> (the module that must import, the pip extra that provides it)
_EXTRAS = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
    "tune": ("optuna", "tune"),
}


def require_extra(name: str, what: str | None = None) -> None:
    """RunError (exit 2) naming the extra when the package behind ``name`` is missing.

    Args:
        what: the feature as the message names it (default ``train.log: NAME``).
    """
    module, extra = _EXTRAS[name]
    if importlib.util.find_spec(module) is None:
        raise RunError(
            f"{what or f'train.log: {name}'} needs the '{module}' package; "
            f"install it with pip install 'specc[{extra}]'",
            exit_code=2,
        )


def hyperparameters(data: object, prefix: str = "") -> dict[str, Any]:
    """The spec's scalar values flattened to ``--set`` key paths: ``{"optimizer.lr": 0.001,
    "model.layers.0.out_features": 32, ...}`` (lists of scalars become their text)."""
    items: Iterable[tuple[object, object]]
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        items = enumerate(data)
    else:
        return {prefix: data if not isinstance(data, list) else str(data)} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat |= hyperparameters(value, f"{prefix}.{key}" if prefix else str(key))
    return {k: v for k, v in flat.items() if v is not None}


class Tracker(Protocol):
    """What each tracker is: a training callback that also ends the run's record."""

    def __init__(self, name: str, params: dict[str, Any], text: str) -> None: ...

    def attach(self, run_dir: Path) -> None: ...

    def epoch(self, row: dict[str, Any]) -> None: ...

    def finish(self, summary: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class Trackers:
    """The trackers a spec asks for, as one group."""

    def __init__(self, callbacks: list[Tracker]) -> None:
        self.callbacks = callbacks

    @classmethod
    def for_spec(cls, spec: Spec, text: str) -> Trackers:
        """Trackers for ``spec.train.log``; ``text`` is the resolved spec (logged as-is)."""
        import yaml

        names = list(dict.fromkeys(spec.train.log)) if spec.train is not None else []
        for name in names:
            require_extra(name)
        params = hyperparameters(yaml.safe_load(text)) if names else {}
        return cls([_tracker_class(name)(spec.name, params, text) for name in names])

    def finish(self, summary: dict[str, Any]) -> None:
        """The run ended: final metrics and artifacts."""
        for callback in self.callbacks:
            callback.finish(summary)

    def close(self) -> None:
        """Release writers and mark unfinished runs (always called)."""
        for callback in self.callbacks:
            callback.close()


def _tracker_class(name: str) -> type[Tracker]:
    """The tracker behind ``train.log: NAME`` (imported only when a spec asks for it)."""
    if name == "tensorboard":
        from specc.track.tensorboard import TensorBoardTracker

        return TensorBoardTracker
    from specc.track.mlflow_tracker import MlflowTracker

    return MlflowTracker
