"""The hint after ``unknown layer type 'x'``: a spelling fix, never a different operation.

``did_you_mean`` alone would offer ``conv2d`` for ``conv3d`` or ``relu`` for a missing ``relu6``;
following such a hint silently changes the model. So a near miss that differs from a real type
only in its digits is named as a different operation, and a suggestion that has a near twin
(``hardswish``/``hardsigmoid``, ``maxpool2d``/``avgpool2d``) says what each one computes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from specc.errors import did_you_mean

#: what a type computes, for telling near twins apart
SUMMARY = {
    "relu": "max(x, 0)",
    "relu6": "min(max(x, 0), 6)",
    "prelu": "leaky ReLU with a learned slope",
    "elu": "x, or alpha*(exp(x) - 1) below 0",
    "selu": "ELU scaled by fixed constants",
    "gelu": "x * Phi(x)",
    "silu": "x * sigmoid(x)",
    "sigmoid": "1 / (1 + exp(-x))",
    "hardsigmoid": "relu6(x + 3) / 6, a gate in [0, 1]",
    "hardswish": "x * relu6(x + 3) / 6, x times that gate",
    "hardtanh": "x clamped to [min_val, max_val]",
    "tanh": "tanh(x)",
    "softmax": "probabilities along dim",
    "logsoftmax": "log-probabilities along dim",
    "conv1d": "over [C, L]",
    "conv2d": "over [C, H, W]",
    "maxpool1d": "the maximum of each window of [C, L]",
    "maxpool2d": "the maximum of each window of [C, H, W]",
    "avgpool1d": "the average of each window of [C, L]",
    "avgpool2d": "the average of each window of [C, H, W]",
    "adaptiveavgpool1d": "averages [C, L] to output_size",
    "adaptiveavgpool2d": "averages [C, H, W] to output_size",
    "batchnorm1d": "over [C] or [C, L]",
    "batchnorm2d": "over [C, H, W]",
    "instancenorm1d": "per sample over [C, L]",
    "instancenorm2d": "per sample over [C, H, W]",
    "dropout": "zeroes elements",
    "dropout2d": "zeroes whole channels",
    "squeeze": "removes a size-1 dimension",
    "unsqueeze": "adds a size-1 dimension",
}
TWIN_RATIO = 0.75
#: twins whose names are not as close as their meanings
TWINS = {"hardswish": "hardsigmoid", "hardsigmoid": "hardswish", "hardtanh": "tanh"}


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _what(kind: str) -> str:
    return f"'{kind}' ({SUMMARY[kind]})" if kind in SUMMARY else f"'{kind}'"


def layer_type_hint(tag: str, types: Sequence[str]) -> str:
    """The text after ``unknown layer type 'tag'``; empty when nothing is close."""
    word = tag.lower().replace("_", "").replace("-", "")
    hint = did_you_mean(tag, types)
    if not hint or word in types:
        return hint  # a case or underscore slip: the same operation
    digitless = re.sub(r"\d", "#", word)
    related = [t for t in types if re.sub(r"\d", "#", t) == digitless]
    if related:
        listed = " and ".join(_what(t) for t in related)
        return (
            f"; specc has no '{tag}': {listed} {'is a' if len(related) == 1 else 'are'} "
            f"different operation{'' if len(related) == 1 else 's'}, not a spelling of it"
        )
    best = hint.split("'")[1]
    twins = [t for t in types if t != best and _ratio(t, best) >= TWIN_RATIO and t in SUMMARY]
    if best not in SUMMARY or not (twins or best in TWINS):
        return hint
    twin = TWINS.get(best) or max(twins, key=lambda t: _ratio(t, word))
    return f" (did you mean {_what(best)}? not to be confused with {_what(twin)})"
