"""``train.log: [mlflow]``: one MLflow run per training run.

Logged: the spec's scalar values as params (by ``--set`` key path), every metric per epoch
(step = epoch), and at the end the artifacts ``best.pt``, ``curves.png``,
``confusion_matrix.png``, ``model.onnx`` and the resolved ``spec.yaml`` (those the run
wrote). The store is ``MLFLOW_TRACKING_URI`` when set, else a local SQLite store in the run
folder (``RUN_DIR/mlflow.db``, artifacts in ``RUN_DIR/mlartifacts/``); view it with
``mlflow ui --backend-store-uri sqlite:///RUN_DIR/mlflow.db``. The experiment is the spec's
name.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specc.rundir import (
    BEST_CHECKPOINT,
    CONFUSION_FIGURE,
    CURVES_FIGURE,
    ERRORS_FIGURE,
    ONNX_FILE,
    SPEC_FILE,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

__all__ = ["ARTIFACTS", "MlflowTracker", "tracking_uri"]

ARTIFACTS = (BEST_CHECKPOINT, CURVES_FIGURE, CONFUSION_FIGURE, ERRORS_FIGURE, ONNX_FILE, SPEC_FILE)


def tracking_uri(run_dir: Path) -> tuple[str, str | None]:
    """``(tracking URI, artifact location for a new experiment)``: the environment's
    ``MLFLOW_TRACKING_URI`` (the server decides where artifacts go), else the run folder."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri, None
    run_dir = Path(run_dir).resolve()
    return f"sqlite:///{run_dir / 'mlflow.db'}", (run_dir / "mlartifacts").as_uri()


class MlflowTracker:
    """Logs one run to MLflow through ``MlflowClient`` (no global active run)."""

    def __init__(self, name: str, params: dict[str, Any], text: str) -> None:
        self.name, self.params = name, params
        self.client: MlflowClient | None = None
        self.run_id: str | None = None

    def attach(self, run_dir: Path) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.run_dir = Path(run_dir)
        uri, artifacts = tracking_uri(self.run_dir)
        self.client = client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(self.name)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else client.create_experiment(self.name, artifact_location=artifacts)
        )
        run = client.create_run(
            experiment_id,
            run_name=self.run_dir.name,
            tags={"specc.run_dir": str(self.run_dir.resolve())},
        )
        self.run_id = run_id = run.info.run_id
        params = [Param(k, str(v)[:6000]) for k, v in self.params.items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 params a call
            client.log_batch(run_id, params=params[start : start + 100])

    def epoch(self, row: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        assert self.client is not None and self.run_id is not None, "attach() first"
        stamp = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), stamp, row["epoch"])
            for k, v in row.items()
            if k != "epoch" and isinstance(v, (int, float))
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self, summary: dict[str, Any]) -> None:
        if self.client is None or self.run_id is None:
            return
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        final = {f"test_{k}": v for k, v in (summary.get("test") or {}).items()}
        final |= {f"best_{k}": v for k, v in (summary.get("best") or {}).items() if k != "epoch"}
        self.client.log_batch(
            self.run_id,
            metrics=[
                Metric(k, float(v), stamp, 0) for k, v in final.items() if isinstance(v, float)
            ],
        )
        for name in ARTIFACTS:
            if (self.run_dir / name).exists():
                self.client.log_artifact(self.run_id, str(self.run_dir / name))
        self.client.set_terminated(self.run_id, "FINISHED")
        self.run_id = None

    def close(self) -> None:
        """A run that did not finish (stopped, pruned, failed) is marked KILLED."""
        if self.client is not None and self.run_id is not None:
            self.client.set_terminated(self.run_id, "KILLED")
            self.run_id = None
