"""The contract every layer type follows, plus small helpers the op modules share.

A layer type is one pydantic model (its arguments, validated with torch's names) that also
knows, in plain Python, how to infer its output shape (:meth:`Layer.infer`) and how to write
itself as PyTorch source (:meth:`Layer.init_source`, :meth:`Layer.forward_source`). The
in-memory module is that source, compiled, so the two can never drift.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "Inferred",
    "Layer",
    "PosInt",
    "Probability",
    "ShapeError",
    "call",
    "fmt_int",
    "fmt_shape",
]

Shape = tuple[int, ...]
#: the lines of ``forward`` a layer writes: ``(code, output shape per sample)`` pairs.
SourceLines = list[tuple[str, Shape]]

PosInt = Annotated[StrictInt, Field(ge=1)]
NonNegInt = Annotated[StrictInt, Field(ge=0)]


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


# allow_inf_nan=False: the strings "inf" and "1e999" would otherwise become float("inf")
Number = Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False)]
PositiveFloat = Annotated[float, BeforeValidator(_no_bool), Field(gt=0, allow_inf_nan=False)]
Probability = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, lt=1, allow_inf_nan=False)]

#: The public attributes of ``torch.nn.Module``, frozen here so that validation does not import
#: torch (tests/test_hostile_limits.py compares it with the installed torch's ``dir(nn.Module)``).
MODULE_ATTRIBUTES = frozenset(
    (
        "T_destination add_module apply bfloat16 buffers call_super_init children compile cpu "
        "cuda double dump_patches eval extra_repr float forward get_buffer get_extra_state "
        "get_parameter get_submodule half ipu load_state_dict modules mtia named_buffers "
        "named_children named_modules named_parameters parameters register_backward_hook "
        "register_buffer register_forward_hook register_forward_pre_hook "
        "register_full_backward_hook register_full_backward_pre_hook "
        "register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module "
        "register_parameter register_state_dict_post_hook register_state_dict_pre_hook "
        "requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty "
        "train type xpu zero_grad"
    ).split()
)

#: Names that generated code uses itself (``x``, ``torch``, ``main``...) or that would shadow
#: nn.Module members.
RESERVED_NAMES = MODULE_ATTRIBUTES | frozenset(
    "batch F input inputs len main model nn print range self super torch training x".split()
)


def check_layer_name(name: str) -> str:
    """Validate a user-given layer name: an ASCII identifier that generated code can use.

    Raises:
        PydanticCustomError: (a ValueError) of type ``layer_name`` (code E207).
    """
    if not name.isascii() or not name.isidentifier():
        raise PydanticCustomError(
            "layer_name",
            f"layer name {name!r} is not a valid name: use letters, digits and '_', "
            "not starting with a digit",
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise PydanticCustomError("layer_name", f"layer name {name!r} is a Python keyword")
    if name in RESERVED_NAMES or name.startswith("_"):
        raise PydanticCustomError(
            "layer_name", f"layer name {name!r} is reserved (it would clash in generated code)"
        )
    return name


class ShapeError(Exception):
    """Raised by :meth:`Layer.infer` when a layer cannot accept its input shape."""


@dataclass
class Inferred:
    """What shape inference learned about one layer.

    Attributes:
        shape: output shape per sample (no batch dimension).
        args: arguments that follow from the input (``in_features``...).
        params: number of parameters.
        macs: multiply-accumulates per sample.
        explain: human arithmetic behind the shape and parameter count.
        dtype: output dtype name (``float32`` or ``int64``).
    """

    shape: Shape
    args: dict[str, Any] = field(default_factory=dict)
    params: int = 0
    macs: int = 0
    explain: list[str] = field(default_factory=list)
    dtype: str = "float32"


class Layer(BaseModel):
    """Base of every layer type: the common keys ``type``, ``name`` and ``inputs``.

    Subclasses declare ``type: Literal[...]`` and their torch arguments, and override
    :meth:`infer`, :meth:`init_source` and :meth:`forward_source`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: how many inputs the layer takes: (min, max); max None means any number.
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    #: the torch class written in generated code, if the layer is a module.
    torch_class: ClassVar[str | None] = None
    #: argument names inferred from the input, which users may omit.
    inferred_args: ClassVar[tuple[str, ...]] = ()
    #: whether int64 inputs (token ids) are allowed; most layers need floating point.
    accepts_int: ClassVar[bool] = False
    #: whether the output keeps the input's layout (element-wise, or over the last dimension
    #: only), so that an embedding's [positions, embedding_dim] passes through as it is.
    keeps_layout: ClassVar[bool] = False

    name: Annotated[str, Field(strict=True)] | None = None
    inputs: str | list[str] | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str | None) -> str | None:
        return None if name is None else check_layer_name(name)

    @property
    def kind(self) -> str:
        """The layer's ``type`` string."""
        return self.type  # type: ignore[attr-defined]

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        """Infer the output for the given per-sample input shapes (plain Python, no torch).

        Raises:
            ShapeError: when the layer cannot accept these inputs.
        """
        raise NotImplementedError

    def init_source(self, inferred: Inferred) -> str | None:
        """The constructor expression (``nn.Linear(400, 120)``), or None for no module."""
        return None

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """Lines of ``forward`` computing this layer (by default one: ``out = expression``).

        Args:
            attr: the module attribute (``self.conv1``).
            args: variable names holding the inputs.
            out: the variable name to assign.
            inferred: this layer's inference result.

        Returns:
            a list of ``(code, shape)`` pairs; ``shape`` is written in the line's comment.
        """
        return [(f"{out} = {self.expression(attr, args, inferred)}", inferred.shape)]

    def expression(self, attr: str, args: list[str], inferred: Inferred) -> str:
        """The right-hand side of a one-line layer: ``self.conv1(x)``, ``x.permute(0, 2, 1)``."""
        return f"{attr}({', '.join(args)})"

    def changed(self, *names: str, show: Callable[[Any], Any] | None = None) -> dict[str, Any]:
        """Keyword arguments for :func:`call`: each named field's value (through ``show``), or
        None, which :func:`call` leaves out, where it equals the field's default (torch's)."""
        fields = type(self).model_fields
        values = {name: getattr(self, name) for name in names}
        if show is not None:
            values = {name: show(value) for name, value in values.items()}
        return {n: None if v == fields[n].default else v for n, v in values.items()}

    def check_written(self, inferred: Inferred) -> None:
        """Raise ShapeError when a written inferable argument differs from the inferred one."""
        for arg in self.inferred_args:
            written = getattr(self, arg, None)
            actual = inferred.args.get(arg)
            if written is not None and actual is not None and _norm(written) != _norm(actual):
                raise ShapeError(
                    f"{arg} is {_show(written)} but the input gives {_show(actual)}"
                    f"{inferred_reason(arg, actual)}; omit it and specc infers it"
                )


def _norm(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _show(value: Any) -> str:
    return str(list(value)) if isinstance(value, (list, tuple)) else str(value)


def inferred_reason(arg: str, actual: Any) -> str:
    """A short explanation of where an inferred argument comes from."""
    reasons = {
        "in_features": " (the size of the last dimension of the input)",
        "in_channels": " (the number of channels of the input)",
        "num_features": " (the number of channels/features of the input)",
        "input_size": " (the number of features per time step)",
        "normalized_shape": " (the trailing dimensions of the input)",
        "embed_dim": " (the size of the last dimension of the query)",
        "d_model": " (the size of the last dimension of the input)",
    }
    return reasons.get(arg, "")


def call(func: str, positional: Sequence[Any] = (), **kwargs: Any) -> str:
    """Render a call with ``repr``'d literals: ``call("nn.Linear", [400, 120], bias=False)``.

    Keyword arguments whose value is ``None`` are left out.
    """
    parts = [_literal(v) for v in positional]
    parts += [f"{k}={_literal(v)}" for k, v in kwargs.items() if v is not None]
    return f"{func}({', '.join(parts)})"


def _literal(value: Any) -> str:
    """``repr`` of a spec value; lists become tuples, as torch writes sizes."""
    return repr(tuple(value) if isinstance(value, list) else value)


def fmt_shape(shape: Shape, batch: str = "B") -> str:
    """``(B, 6, 28, 28)`` for a per-sample shape ``(6, 28, 28)``."""
    return "(" + ", ".join([batch, *map(str, shape)]) + ")"


def fmt_int(n: int) -> str:
    """``48,120`` for 48120."""
    return f"{n:,}"


def require_rank(shape: Shape, ranks: Sequence[int], what: str) -> None:
    """Raise ShapeError unless ``len(shape)`` is one of ``ranks``."""
    if len(shape) not in ranks:
        expected = " or ".join(f"{r}-D" for r in ranks)
        raise ShapeError(f"{what} needs a {expected} input per sample, got {list(shape)}")
