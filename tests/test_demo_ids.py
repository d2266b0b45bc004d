"""The ``__main__`` demo of a generated model.py draws token ids every reader accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from specc.backends.source import demo_id_range, render_model_source
from specc.spec.validate import check_text, load_spec

ROOT = Path(__file__).resolve().parents[1]

TWO_TABLES = """version: 1
name: two_tables
model:
  input: {shape: [6], dtype: int64}
  layers:
    - {type: embedding, num_embeddings: 30, embedding_dim: 8, name: big}
    - {type: embedding, num_embeddings: 12, embedding_dim: 8, name: small, inputs: input}
    - {type: add, inputs: [big, small]}
    - {type: transformerencoderlayer, nhead: 2, dim_feedforward: 16, padding_idx: 0,
       dropout: 0.0, inputs: [add_1, input]}
    - {type: linear, out_features: 2}
"""


def test_ids_stay_below_the_smallest_table_and_skip_a_masked_padding_id() -> None:
    spec, errors = check_text(TWO_TABLES, "two_tables.yaml")
    assert not errors
    # the encoder reads the ids too (its padding mask) but bounds nothing; it masks id 0
    assert demo_id_range(spec.graph) == (1, 12)
    assert "x = torch.randint(1, 12, (2, 6))" in render_model_source(spec)


def test_an_embedding_alone_keeps_id_zero() -> None:
    spec = load_spec(ROOT / "tests/specs/recurrent.yaml")
    embedding = next(n for n in spec.graph.consumers("input") if n.kind == "embedding")
    assert demo_id_range(spec.graph) == (0, embedding.layer.num_embeddings)


def test_the_attention_fixture_demo_runs_on_ids_of_its_vocabulary(tmp_path: Path) -> None:
    """Before: ids were drawn from {0, 1} since the encoders read the ids too; now from the
    embedding's 40 ids, none of them the padding id 0, and the demo runs."""
    spec = load_spec(ROOT / "tests/specs/attention.yaml")
    low, high = demo_id_range(spec.graph)
    embed = spec.graph.consumers("input")[0]
    assert (low, high) == (1, embed.layer.num_embeddings)
    path = tmp_path / "model.py"
    path.write_text(render_model_source(spec), encoding="utf-8")
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str((2, *spec.graph.output_shapes[0]))
