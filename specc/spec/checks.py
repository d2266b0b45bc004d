"""Static checks that need the whole spec: loss against output layer.

``CrossEntropyLoss`` is ``LogSoftmax`` + ``NLLLoss``, and ``BCEWithLogitsLoss`` applies the
sigmoid itself, so a softmax or sigmoid before them silently trains a worse model.
"""

from __future__ import annotations

from specc.ir import Graph, Node

# Layers that pass values through unchanged in eval mode (look through them).
_TRANSPARENT = {"dropout", "dropout2d", "identity"}


def _feeding_layer(graph: Graph) -> Node | None:
    """The last layer that changes values, walking back from the first output."""
    name = graph.outputs[0]
    while name != "input":
        node = graph.node(name)
        if node.kind not in _TRANSPARENT:
            return node
        name = node.inputs[0]
    return None


def loss_problems(spec, graph: Graph) -> list[tuple[int | None, str | None, str]]:
    """Problems between the loss and the layer that feeds it."""
    if spec.loss is None:
        return []
    last = _feeding_layer(graph)
    kind = last.kind if last else None
    feeder = last.inputs[0] if last else "input"
    problem = spec.loss.output_problem(kind, feeder)
    if problem is None:
        return []
    return [(last.index if last else None, None, problem)]
