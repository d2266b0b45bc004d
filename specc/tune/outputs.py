"""What a tune leaves in DIR besides the study: ``trials.csv``, ``best.yaml`` and the plots
``optimization_history.png`` and ``param_importances.png`` (Optuna's matplotlib
visualisation)."""

from __future__ import annotations

import csv
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from optuna.trial import TrialState

from specc.rundir import write_text
from specc.tune.space import set_text

if TYPE_CHECKING:
    import optuna
    from matplotlib.axes import Axes

    from specc.spec.schema import Spec
    from specc.tune.config import TuneConfig

__all__ = ["best_spec_text", "write_outputs", "write_plots", "write_trials_csv"]

_SOURCE_PATHS = ("path", "root")  # data.source keys that hold paths relative to the spec


def write_trials_csv(study: optuna.Study, path: Path, keys: list[str]) -> None:
    """One row per trial: number, state, value, each searched key, seconds, run_dir, reason."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "state", "value", *keys, "seconds", "run_dir", "reason"])
    for trial in study.get_trials(deepcopy=False):
        seconds = (
            (trial.datetime_complete - trial.datetime_start).total_seconds()
            if trial.datetime_complete and trial.datetime_start
            else ""
        )
        writer.writerow(
            [
                trial.number,
                trial.state.name,
                "" if trial.value is None else f"{trial.value:.8g}",
                *(trial.params.get(k, "") for k in keys),
                f"{seconds:.2f}" if seconds != "" else "",
                trial.user_attrs.get("run_dir", ""),
                trial.user_attrs.get("reason", ""),
            ]
        )
    write_text(path, buffer.getvalue())


def best_spec_text(spec: Spec, params: dict, out_dir: Path, header: str) -> str:
    """The spec with ``params`` written in, as YAML that validates where it is written
    (``out_dir``): relative data paths are rewritten relative to ``out_dir``."""
    from specc.train.overrides import apply_overrides

    _, text = apply_overrides(spec, [set_text(k, v) for k, v in params.items()])
    data = yaml.safe_load(text)
    source = (data.get("data") or {}).get("source")
    spec_dir = Path(spec.source_path).resolve().parent
    if isinstance(source, dict):
        for key in _SOURCE_PATHS:
            value = source.get(key)
            if isinstance(value, str) and not os.path.isabs(value):
                source[key] = os.path.relpath(spec_dir / value, Path(out_dir).resolve())
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body


def write_plots(study: optuna.Study, out_dir: Path) -> list[str]:
    """The optimisation history and (with 2+ complete trials) the parameter importances;
    returns the file names written."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from optuna.visualization import matplotlib as ovm

    written = []
    plots: list[tuple[str, Callable[[optuna.Study], Axes]]]
    plots = [("optimization_history.png", ovm.plot_optimization_history)]
    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) >= 2:
        plots.append(("param_importances.png", ovm.plot_param_importances))
    for name, plot in plots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            ax = plot(study)
        _save(ax, out_dir / name)
        written.append(name)
    return written


def _save(ax: Axes, path: Path) -> None:
    """Save (7 x 4.5 inches, 100 dpi) and close the figure an Optuna plot drew ``ax`` on."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    figure = ax.figure
    assert isinstance(figure, Figure)  # Optuna draws on a figure of its own, not a subfigure
    figure.set_size_inches(7, 4.5)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_outputs(
    study: optuna.Study, spec: Spec, config: TuneConfig, keys: list[str], monitor: str
) -> Path | None:
    """Write trials.csv, the plots and (when a trial completed) best.yaml; return its path."""
    out = config.out_dir
    write_trials_csv(study, out / "trials.csv", keys)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    write_plots(study, out)
    best = study.best_trial
    header = (
        f"specc tune: the best of {len(complete)} complete trials of {spec.source_path}\n"
        f"trial {best.number}: {monitor} {best.value:.6g} "
        f"({', '.join(set_text(k, v) for k, v in best.params.items())})"
    )
    path = out / "best.yaml"
    write_text(path, best_spec_text(spec, best.params, out, header))
    return path
