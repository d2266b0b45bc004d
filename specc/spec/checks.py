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
    loss = spec.loss.type
    last = _feeding_layer(graph)
    kind = last.kind if last else None
    feeder = last.inputs[0] if last else "input"
    if loss == "cross_entropy" and kind in ("softmax", "logsoftmax"):
        return [(last.index, None, f"layer '{feeder}' feeds cross_entropy through {kind}; "
                 "cross_entropy applies log-softmax itself (CrossEntropyLoss = LogSoftmax + "
                 f"NLLLoss), so remove the {kind} layer")]
    if loss == "bce_with_logits" and kind == "sigmoid":
        return [(last.index, None, f"layer '{feeder}' feeds bce_with_logits through sigmoid; "
                 "bce_with_logits applies the sigmoid itself, so remove the sigmoid layer "
                 "(or use the bce loss)")]
    if loss == "nll" and kind != "logsoftmax":
        where = last.index if last else None
        return [(where, None, "nll expects log-probabilities: end the model with a logsoftmax "
                 "layer, or use cross_entropy on raw scores")]
    if loss == "bce" and kind != "sigmoid":
        where = last.index if last else None
        return [(where, None, "bce expects probabilities in [0, 1]: end the model with a "
                 "sigmoid layer, or use bce_with_logits on raw scores (more stable)")]
    return []
