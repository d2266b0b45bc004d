"""``specc export RUN_DIR | SPEC``: ONNX export, always verified by the checker and onnxruntime."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def _fmt_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def export(
    target: Path = typer.Argument(..., help="A run directory (its best.pt) or a spec file."),  # noqa: B008
    output: str | None = typer.Option(
        None, "-o", "--output", help="The .onnx file (default: RUN_DIR/model.onnx or NAME.onnx)."
    ),
    checkpoint: Path | None = typer.Option(  # noqa: B008
        None, "--checkpoint", help="Load weights from this checkpoint instead."
    ),
    opset: int | None = typer.Option(
        None, "--opset", min=17, max=23, help="ONNX opset (default: export.onnx.opset or 18)."
    ),
    atol: float = typer.Option(
        1e-4, "--atol", help="Largest allowed |onnxruntime - torch| difference."
    ),
    include_preprocessing: bool | None = typer.Option(
        None,
        "--include-preprocessing/--no-include-preprocessing",
        help="Fold numeric scaling into the graph, so the model takes raw numeric features.",
    ),
) -> None:
    """Export a model to ONNX, check it, and compare onnxruntime with torch (exit 1 if off)."""
    import math

    from specc.commands.common import RunError
    from specc.export.api import ExportError, export_onnx
    from specc.export.target import resolve_target
    from specc.paths import check_output
    from specc.rundir import BEST_CHECKPOINT, LAST_CHECKPOINT, SPEC_FILE

    if not math.isfinite(atol) or atol < 0:
        raise RunError(f"--atol must be a finite number >= 0, not {atol}", exit_code=2)
    inputs = [p for p in (target, checkpoint) if p is not None]
    if target.is_dir():
        inputs += [target / name for name in (BEST_CHECKPOINT, LAST_CHECKPOINT, SPEC_FILE)]
    chosen = None
    if output is not None:
        chosen = check_output(output, "-o", inputs, make_parent=True)
    resolved = resolve_target(target, checkpoint)
    path = chosen or check_output(
        resolved.default_output, "the default output", inputs, make_parent=True
    )
    try:
        report = export_onnx(
            resolved.model,
            resolved.spec,
            path,
            checkpoint=resolved.checkpoint,
            opset=opset,
            include_preprocessing=include_preprocessing,
            atol=atol,
        )
    except ExportError as exc:
        raise RunError(str(exc)) from None
    info = report.info
    dims = "dynamic batch" + (", dynamic sequence length" if info.dynamic_seq else "")
    out = sys.stdout.write
    out(
        f"exported {target} -> {path} (opset {info.opset}, {_fmt_size(report.size_bytes)}, "
        f"{dims})\n"
    )
    if report.seq_note:
        out(f"note: {report.seq_note}\n")
    if info.includes_preprocessing:
        out("note: numeric scaling is folded into the graph; it takes unscaled features\n")
    out("onnx checker: ok\n")
    out(f"parity (onnxruntime vs torch): {report.parity.describe()}\n")
    diff = report.parity.max_abs_diff
    verdict = "ok" if diff <= atol else "FAILED"
    out(f"max abs diff {diff:.3g} (atol {atol:g}): {verdict}\n")
    if diff > atol:
        raise RunError(f"onnxruntime differs from torch by {diff:.3g} > atol {atol:g}")
