"""``specc predict MODEL.onnx INPUT``: predictions with onnxruntime alone (no torch)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def predict(
    model: Path = typer.Argument(..., help="An ONNX file written by `specc export`."),  # noqa: B008
    inputs: Path = typer.Argument(  # noqa: B008
        ...,
        help="A CSV of raw feature columns, a .npy/.npz array, or images (a file, or "
        "a folder: one row per file).",
    ),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Write the predictions CSV here (default: stdout)."
    ),
    top_k: int = typer.Option(1, "--top-k", min=1, help="Report the k most likely classes."),
) -> None:
    """Predict: one CSV row per input (class, label, probability; or the regression value)."""
    from specc.commands.common import RunError
    from specc.paths import check_output, write_atomic
    from specc.predict import PredictError
    from specc.predict import predict as run_predict

    path = None
    if output is not None:  # before the work, and never onto the model or the inputs
        path = check_output(output, "-o", inputs=[model, inputs])
    try:
        table = run_predict(model, inputs, top_k=top_k)
    except PredictError as exc:
        raise RunError(str(exc), exc.exit_code) from None
    text = table.to_csv()
    if path is None:
        sys.stdout.write(text)
    else:
        write_atomic(path, text)
        sys.stderr.write(f"wrote {len(table.rows)} predictions to {path}\n")
