"""``specc schema [-o FILE]``: the JSON Schema of a spec, for editor completion."""

from __future__ import annotations

import json
import sys

import typer


def schema_text() -> str:
    """The JSON Schema of :class:`specc.spec.schema.Spec`, as stable, indented text."""
    from specc.spec.schema import Spec

    schema = Spec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "specc model spec"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def schema(
    output: str | None = typer.Option(None, "-o", "--output", help="Write to this file."),
) -> None:
    """Print (or write) the JSON Schema of the spec format."""
    from specc.paths import check_output, write_atomic

    path = check_output(output, "-o") if output is not None else None
    text = schema_text()
    if path is None:
        sys.stdout.write(text)
    else:
        write_atomic(path, text)
        sys.stdout.write(f"wrote {path}\n")
