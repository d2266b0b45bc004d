"""Static checks that need the whole spec: loss against output layer.

``CrossEntropyLoss`` is ``LogSoftmax`` + ``NLLLoss``, and ``BCEWithLogitsLoss`` applies the
sigmoid itself, so a softmax or sigmoid before them silently trains a worse model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from specc.ir import INPUT, Graph, Node

if TYPE_CHECKING:
    from specc.spec.schema import Spec

#: a located problem: (layer index or None, key under it or None, message, error code)
Problem = tuple[int | None, str | None, str, str]

# Layers that pass values through unchanged in eval mode (look through them).
_TRANSPARENT = {"dropout", "dropout2d", "identity"}


def _feeding_layer(graph: Graph) -> Node | None:
    """The last layer that changes values, walking back from the first output."""
    name = graph.outputs[0]
    while name != INPUT:
        node = graph.node(name)
        if node.kind not in _TRANSPARENT:
            return node
        name = node.inputs[0]
    return None


def loss_problems(spec: Spec, graph: Graph) -> list[Problem]:
    """Problems between the loss and the layer that feeds it: ``(index, key, message, code)``."""
    if spec.loss is None:
        return []
    last = _feeding_layer(graph)
    kind = last.kind if last else None
    feeder = last.inputs[0] if last else "input"
    problem = spec.loss.output_problem(kind, feeder)
    if problem is None:
        return []
    return [(last.index if last else None, None, problem, "E405")]


def wiring_problems(graph: Graph) -> list[Problem]:
    """Wiring that validates but builds a different model than the one meant.

    A conv1d reading an embedding's ``[positions, embedding_dim]`` output (directly or through
    element-wise layers) would take the positions as channels; the embedding dimension is meant
    (``[embedding_dim, positions]``), so specc asks for a ``permute``. An ``identity`` layer in
    between says the layout is intended.
    """
    problems: list[Problem] = []
    for node in graph.nodes:
        if node.kind != "conv1d":
            continue
        source = _through_layout_keeping(graph, node.inputs[0])
        if source is not None and source.kind == "embedding":
            positions, dim = source.shape[-2:] if len(source.shape) >= 2 else (None, None)
            message = (
                f"reads embedding '{source.name}' output {list(source.shape)} = "
                f"[positions, embedding_dim], so it would take the {positions} positions as "
                f"channels and slide along the {dim} embedding features; put "
                "`{type: permute, dims: [0, 2, 1]}` before it to convolve over positions "
                f"with {dim} channels (or an identity layer in between if this layout is "
                "meant)"
            )
            problems.append((node.index, None, message, "E404"))
    return problems


def _through_layout_keeping(graph: Graph, name: str) -> Node | None:
    """The first node up the chain from ``name`` that is not layout-keeping (None: the input)."""
    while name != INPUT:
        node = graph.node(name)
        if not node.layer.keeps_layout:
            return node
        name = node.inputs[0]
    return None
