"""Resume safety: what differs between a run's ``last.pt`` and what would continue it.

Before ``--resume`` touches a run folder it checks that ``last.pt`` is a specc checkpoint
(:func:`checkpoint_problems`), that the spec to continue with is the one the checkpoint was
trained with (:func:`spec_differences`, ``spec.yaml`` edits and ``--set`` alike, except the
keys in :data:`FREE_KEYS`), that the data has the same hash, and that the model has the
checkpoint's parameter names and shapes (:func:`structure_differences`), after renaming
the flat keys of a checkpoint from the previous version (:func:`upgrade_model_keys`). A spec or data
difference is refused unless ``--force`` is given (and then recorded in ``summary.json``); a
structure difference is always refused, since the weights cannot be loaded.
"""

from __future__ import annotations

from typing import Any, cast

__all__ = [
    "FREE_KEYS",
    "checkpoint_problems",
    "describe",
    "spec_differences",
    "structure_differences",
    "upgrade_model_keys",
]

# Spec keys a resumed run may change freely: how long, where and how fast it runs.
FREE_KEYS = {("train", "epochs"), ("train", "device"), ("data", "num_workers")}

# The entries of a specc checkpoint, each with the type it must have.
_ENTRIES: dict[str, type | tuple[type, ...]] = {
    "model": dict,
    "optimizer": dict,
    "scheduler": (dict, type(None)),
    "epoch": int,
    "rng": dict,
    "best": dict,
    "history": list,
    "train_seconds": (int, float),
    "spec": str,
    "spec_dir": str,
}


def checkpoint_problems(state: Any) -> list[str]:
    """What makes ``state`` (a loaded ``last.pt``) unusable for a resume; [] when none."""
    import torch

    if not isinstance(state, dict):
        return [f"it holds a {type(state).__name__}, not a specc checkpoint dict"]
    problems = []
    for key, kind in _ENTRIES.items():
        if key not in state:
            problems.append(f"no '{key}' entry")
        elif not isinstance(state[key], kind) or isinstance(state[key], bool):
            problems.append(f"'{key}' is a {type(state[key]).__name__}")
    model = state.get("model")
    if isinstance(model, dict) and not all(isinstance(v, torch.Tensor) for v in model.values()):
        problems.append("'model' is not a state_dict of tensors")
    return problems


def _flatten(value: Any, prefix: tuple = ()) -> dict[tuple, Any]:
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else None
    )
    if items is None:
        return {prefix: value}
    out: dict[tuple, Any] = {}
    for key, item in items:
        out.update(_flatten(item, (*prefix, key)))
    return out or {prefix: value}


def _data(text: str) -> dict:
    from specc.spec.load import load_text

    loaded, _ = load_text(text, "<spec>")
    # a spec that loads is a mapping at its top level (this text was a run's spec)
    return cast(dict, loaded.data) if loaded is not None else {}


def spec_differences(old_text: str, new_text: str) -> list[str]:
    """``key.path: old -> new`` for each spec value that differs (not :data:`FREE_KEYS`)."""
    old, new = _flatten(_data(old_text)), _flatten(_data(new_text))
    changes = []
    for key in sorted(old.keys() | new.keys(), key=lambda k: tuple(map(str, k))):
        if key[:2] in FREE_KEYS or old.get(key, "<absent>") == new.get(key, "<absent>"):
            continue
        dotted = ".".join(map(str, key))
        changes.append(
            f"{dotted}: {_short(old.get(key, '<absent>'))} -> {_short(new.get(key, '<absent>'))}"
        )
    return changes


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."


def upgrade_model_keys(state: dict, graph: Any, expected: set[str]) -> None:
    """Rename, in ``state`` (a loaded ``last.pt``), the flat ``model`` keys the previous
    version wrote (``res_1_conv1.weight``) to the model's dotted ones (``res.0.conv1.weight``)
    through :func:`specc.backends.keys.upgrade_keys`: only when all of them then fit
    ``expected``, so a checkpoint that does not fit is still refused whole."""
    from specc.backends.keys import upgrade_keys

    state["model"] = upgrade_keys(graph, state["model"], expected)


def structure_differences(expected: dict, saved: dict) -> list[str]:
    """Parameter names and shapes in which a checkpoint's state_dict differs from the
    model's: ``missing fc.weight``, ``fc.weight: saved (3, 4), model (5, 4)``."""
    problems = [f"missing {name}" for name in expected if name not in saved]
    problems += [f"unexpected {name}" for name in saved if name not in expected]
    for name, tensor in expected.items():
        other = saved.get(name)
        if other is not None and tuple(other.shape) != tuple(tensor.shape):
            problems.append(f"{name}: saved {tuple(other.shape)}, model {tuple(tensor.shape)}")
    return problems


def describe(items: list[str], limit: int = 6) -> str:
    """``a; b; c; ... (9 in all)``: a one-line list of differences."""
    shown = "; ".join(items[:limit])
    return shown + (f"; ... ({len(items)} in all)" if len(items) > limit else "")
