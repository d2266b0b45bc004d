"""Batch-1 latency: onnxruntime vs torch eager, for the MLP, LeNet and the recurrent model.

Each shipped spec is built (fresh weights; latency does not depend on their values),
exported with ``specc.export.export_onnx`` (dynamic batch, verified), then both runtimes run
the same single sample many times on one thread each; the table gives the median (p50) and
p90 per call and the speed-up of onnxruntime over torch.

    python bench/bench_onnx.py [--iters 2000] [--threads 1] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"MLP (diabetes)": "diabetes", "LeNet-5 (lenet)": "lenet", "LSTM (rnn)": "rnn"}


def _percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]


def _time(call, iters: int) -> tuple[float, float]:
    for _ in range(max(20, iters // 20)):  # warm-up
        call()
    times = []
    for _ in range(iters):
        start = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - start) / 1e3)  # microseconds
    return _percentiles(times)


def bench_one(spec_name: str, folder: Path, iters: int, threads: int) -> dict:
    """Export ``specs/<spec_name>.yaml`` and time batch-1 inference in torch and onnxruntime."""
    import onnxruntime as ort
    import torch

    import specc
    from specc.export import export_onnx

    spec = specc.load_spec(ROOT / "specs" / f"{spec_name}.yaml")
    torch.manual_seed(spec.seed)
    model = specc.build_model(spec).eval()
    report = export_onnx(model, spec, folder / f"{spec_name}.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(report.path), options, providers=["CPUExecutionProvider"])
    x = torch.randn(1, *spec.graph.input_shape)
    feed = {report.info.input_name: x.numpy()}

    def torch_call():
        with torch.inference_mode():
            model(x)

    torch_p50, torch_p90 = _time(torch_call, iters)
    ort_p50, ort_p90 = _time(lambda: session.run(None, feed), iters)
    return {
        "spec": spec_name,
        "params": spec.graph.params,
        "parity_max_abs_diff": report.parity.max_abs_diff,
        "torch_p50_us": torch_p50,
        "torch_p90_us": torch_p90,
        "ort_p50_us": ort_p50,
        "ort_p90_us": ort_p90,
        "speedup_p50": torch_p50 / ort_p50,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    import onnxruntime as ort
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, name in MODELS.items():
            row = bench_one(name, Path(tmp), args.iters, args.threads)
            rows.append({"model": label, **row})
    print(
        f"batch 1, {args.iters} calls, {args.threads} thread(s); torch {torch.__version__}, "
        f"onnxruntime {ort.__version__}"
    )
    print(
        f"{'model':<18}{'params':>10}{'torch p50':>12}{'ort p50':>10}{'speed-up':>10}"
        f"{'torch p90':>12}{'ort p90':>10}"
    )
    for r in rows:
        print(
            f"{r['model']:<18}{r['params']:>10,}{r['torch_p50_us']:>10.1f}us"
            f"{r['ort_p50_us']:>8.1f}us{r['speedup_p50']:>9.1f}x"
            f"{r['torch_p90_us']:>10.1f}us{r['ort_p90_us']:>8.1f}us"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
