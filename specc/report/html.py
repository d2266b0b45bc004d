"""``report.html``: one self-contained page about a run folder.

Sections: the headline numbers (status, best epoch, test metrics), the resolved spec, the
layer table (:func:`specc.summary.summarize`), the curves, the confusion matrix, the
per-class table and the misclassified images. Every picture is inlined as a base64
``data:`` URI, so the page can be mailed or archived alone; it has no script and no
external resource.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

from specc.errors import RunError
from specc.rundir import (
    CONFUSION_FIGURE,
    CURVES_FIGURE,
    ERRORS_FIGURE,
    REPORT_FILE,
    SPEC_FILE,
    SUMMARY_FILE,
)

__all__ = ["FIGURES", "render_report", "write_report"]

FIGURES = (
    (CURVES_FIGURE, "Training curves"),
    (CONFUSION_FIGURE, "Confusion matrix"),
    (ERRORS_FIGURE, "Misclassified validation images"),
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:90%}img{max-width:100%}
"""


def _table(header: list[str], rows: list[list], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if i >= numeric_from else ''}>{escape(_cell(v))}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _image(path: Path, title: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<h2>{escape(title)}</h2>\n<img alt="{escape(title)}" src="data:image/png;base64,{data}">'
    )


def _layers(text: str, path: Path) -> str:
    from specc.spec.validate import check_text
    from specc.summary import summarize

    spec, errors = check_text(text, str(path))
    if errors or spec is None or spec.graph is None:
        return "<p>(the stored spec does not validate with this specc; no layer table)</p>"
    summary = summarize(spec)
    rows = [
        [row.name, row.type, "x".join(map(str, row.output_shape)), row.params, row.line]
        for row in summary.layers
    ]
    return (
        _table(["layer", "type", "output", "params", "line"], rows, numeric_from=3)
        + f"<p>{summary.params:,} parameters, input {summary.input_shape}</p>"
    )


def _headline(summary: dict) -> str:
    if not summary:
        return "<p>(no summary.json: the run has not finished)</p>"
    best = summary.get("best") or {}
    rows = [
        ["status", summary.get("status")],
        ["epochs", summary.get("epochs_run")],
        ["device", summary.get("device")],
        ["seconds", summary.get("seconds")],
        ["best epoch", best.get("epoch")],
    ]
    rows += [[f"best {k}", v] for k, v in best.items() if k not in ("epoch", "seconds")]
    rows += [[f"test {k}", v] for k, v in (summary.get("test") or {}).items()]
    return _table(["", "value"], rows)


def _per_class(summary: dict) -> str:
    parts = []
    for split, classes in (summary.get("per_class") or {}).items():
        rows = [
            [name, s["precision"], s["recall"], s["f1"], s["support"]]
            for name, s in classes.items()
        ]
        parts.append(
            f"<h2>Per class ({escape(split)})</h2>"
            + _table(["class", "precision", "recall", "f1", "support"], rows)
        )
    return "\n".join(parts)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None


def _read_summary(path: Path) -> dict:
    """The run's summary.json ({} before the run finished); RunError for a damaged one."""
    if not path.exists():
        return {}
    try:
        summary = json.loads(_read_text(path))
    except ValueError as exc:
        raise RunError(f"{path} is not a run summary (invalid JSON: {exc})") from None
    if not isinstance(summary, dict):
        raise RunError(f"{path} is not a run summary: expected a JSON object")
    return summary


def render_report(run_dir: str | Path) -> str:
    """The HTML text of ``run_dir``'s report."""
    run_dir = Path(run_dir)
    spec_file = run_dir / SPEC_FILE
    if not spec_file.exists():
        raise RunError(f"{run_dir} is not a run directory (no spec.yaml)")
    text = _read_text(spec_file)
    summary = _read_summary(run_dir / SUMMARY_FILE)
    name = summary.get("name") or run_dir.name
    figures = "\n".join(
        _image(run_dir / f, title) for f, title in FIGURES if (run_dir / f).exists()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(name)}: specc report</title>
<style>{_STYLE}</style></head><body>
<h1>{escape(name)}</h1><p class="sub">{escape(str(run_dir))}</p>
{_headline(summary)}
{figures}
{_per_class(summary)}
<h2>Layers</h2>
{_layers(text, spec_file)}
<h2>Spec</h2>
<pre>{escape(text)}</pre>
</body></html>
"""


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report (default ``run_dir/report.html``) and return its path."""
    from specc.paths import check_output
    from specc.rundir import write_text

    path = Path(out) if out is not None else Path(run_dir) / REPORT_FILE
    if out is not None:  # never onto the run's own files (spec.yaml, best.pt, ...)
        folder = Path(run_dir)
        files = folder.iterdir() if folder.is_dir() else []
        check_output(path, "--out", inputs=[f for f in files if f.name != REPORT_FILE])
    write_text(path, render_report(run_dir))
    return path
