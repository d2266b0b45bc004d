"""Fold numeric preprocessing into the exported graph (``--include-preprocessing``).

For a table of numeric features, every fitted step that specc can fold (its section's
``folds``) is per-column affine (a scaler, a ``normalize`` transform) or a numeric imputer
(NaN -> the fitted statistic). The wrapper computes, in the graph::

    x = where(isnan(raw) & imputed, fill, raw)        # (B, F)
    model(x * scale + offset)                         # the same scaling, composed

so the exported model takes the raw numeric feature columns, in ``state["features"]`` order.
Encoders change the number of columns, so a state with an encoder (or any non-tabular
state) cannot be folded: that is an :class:`~specc.export.api.ExportError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from specc.spec.sections import (
    PREPROCESS,
    TRANSFORMS,
    PreprocessStep,
    TransformStep,
    member_named,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from specc.export.api import ExportError

__all__ = ["affine_of", "fold_preprocessing"]


def _fail(message: str) -> ExportError:
    from specc.export.api import ExportError

    return ExportError(f"--include-preprocessing: {message}")


def affine_of(state: dict | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(scale, offset, fill, imputed)`` per raw feature column, each float64/bool (F,).

    Raises:
        ExportError: the state is missing, not tabular, or has a step that cannot be folded.
    """
    if not state:
        raise _fail(
            "the fitted preprocessing is unknown; export a run directory or pass --checkpoint"
        )
    if state.get("kind") != "tabular":
        raise _fail("only tabular (CSV/table) preprocessing can be folded")
    features = list(state["features"])
    if list(state["columns"]) != features:
        raise _fail("an encoder changes the columns; only numeric scaling and imputing fold")
    n = len(features)
    scale, offset = np.ones(n), np.zeros(n)
    fill, imputed = np.zeros(n), np.zeros(n, dtype=bool)
    folded = [(step, _folds(PREPROCESS, step["type"]), "step") for step in state["steps"]]
    transforms = state.get("transforms") or []
    folded += [(step, _folds(TRANSFORMS, step["type"]), "transform") for step in transforms]
    for step, folds, kind in folded:
        idx = [features.index(c) for c in step.get("columns", features)]
        if folds == "impute":
            _impute(step, idx, fill, imputed, scale, offset)
        elif folds == "affine":
            a, b = _AFFINE[step["type"]](step, len(idx))
            scale[idx], offset[idx] = scale[idx] * a, offset[idx] * a + b
        else:
            raise _fail(f"a {step['type']} {kind} cannot be folded into the graph")
    return scale, offset, fill, imputed


def _folds(family: tuple[type[PreprocessStep | TransformStep], ...], name: str) -> str | None:
    """The member's ``folds`` (None for a type this specc does not know)."""
    try:
        return member_named(family, name).folds
    except KeyError:  # a state written by another specc
        return None


def _impute(
    step: dict,
    idx: list[int],
    fill: np.ndarray,
    imputed: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
) -> None:
    stats = step["statistics"]
    if any(not isinstance(v, int | float) or isinstance(v, bool) for v in stats):
        raise _fail("simple_imputer fills a text column; only numeric imputing folds")
    if imputed[idx].any() or (scale[idx] != 1).any() or (offset[idx] != 0).any():
        raise _fail("simple_imputer after scaling cannot be folded")
    fill[idx], imputed[idx] = stats, True


Affine = tuple[np.ndarray, np.ndarray]


def _standard(step: dict, k: int) -> Affine:
    mean = np.asarray(step["mean"] if step["mean"] is not None else [0.0] * k, np.float64)
    std = np.asarray(step["scale"] if step["scale"] is not None else [1.0] * k, np.float64)
    return 1.0 / std, -mean / std


def _min_max(step: dict, k: int) -> Affine:
    return np.asarray(step["scale"], dtype=np.float64), np.asarray(step["min"], np.float64)


def _normalize(step: dict, k: int) -> Affine:
    a = 1.0 / np.broadcast_to(np.asarray(step["std"], dtype=np.float64), (k,))
    return a, -np.broadcast_to(np.asarray(step["mean"], dtype=np.float64), (k,)) * a


#: ``x -> x * a + b`` of each fitted step that ``folds`` as ``affine`` (by ``type``), over
#: its k columns (a transform's: every feature)
_AFFINE: dict[str, Callable[[dict, int], Affine]] = {
    "standard_scaler": _standard,
    "min_max_scaler": _min_max,
    "normalize": _normalize,
}


def fold_preprocessing(
    model: nn.Module, state: dict | None, input_shape: list[int]
) -> tuple[nn.Module, Callable[[np.ndarray], np.ndarray]]:
    """Wrap ``model`` so it takes raw numeric features ``(B, F)``.

    Returns:
        ``(wrapper, raw_from_scaled)``: the wrapper module (eval mode), and a
        ``numpy -> numpy`` map that turns standard-normal draws into raw values on the
        features' own scale, for the parity check.
    """
    scale, offset, fill, imputed = affine_of(state)
    if list(input_shape) != [len(scale)]:
        raise _fail(f"the model input {input_shape} is not the {len(scale)} raw columns")
    wrapper = _make_wrapper(model, scale, offset, fill, imputed)
    safe = np.where(scale == 0, 1.0, scale)
    return wrapper.eval(), lambda x: (x - offset) / safe


def _make_wrapper(
    model: nn.Module,
    scale: np.ndarray,
    offset: np.ndarray,
    fill: np.ndarray,
    imputed: np.ndarray,
) -> nn.Module:
    import torch
    from torch import nn

    class WithPreprocessing(nn.Module):
        """``model(where(isnan(raw), fill, raw) * scale + offset)``: (B, F) -> model output."""

        scale: torch.Tensor  # the buffers, each (F,)
        offset: torch.Tensor
        fill: torch.Tensor
        imputed: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self._specc_inner = model
            self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
            self.register_buffer("offset", torch.tensor(offset, dtype=torch.float32))
            self.register_buffer("fill", torch.tensor(fill, dtype=torch.float32))
            self.register_buffer("imputed", torch.tensor(imputed))
            self.any_imputed = bool(imputed.any())

        def forward(self, x: torch.Tensor) -> Any:  # the model's output: a tensor or a tuple
            if self.any_imputed:
                x = torch.where(torch.isnan(x) & self.imputed, self.fill, x)
            return self._specc_inner(x * self.scale + self.offset)

    return WithPreprocessing()
