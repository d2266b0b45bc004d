"""The pydantic model of a whole spec: ``version``, ``name``, ``seed``, ``model`` and the
non-model sections of :mod:`specc.spec.sections`.

Layers are a discriminated union on ``type`` built from the closed op registry; a bare
string is a layer with no arguments. Reusable ``blocks`` are expanded before validation
(see :mod:`specc.spec.blocks`), so ``model.layers`` of a validated spec holds only real layers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, StrictInt

from specc.ops import LAYER_TYPES
from specc.ops.base import Layer, PosInt
from specc.spec.sections import (
    DataSpec,
    ExportSpec,
    Loss,
    Optimizer,
    Scheduler,
    Strict,
    TrainSpec,
    bare_name,
    bare_types,
    with_bare,
)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


def _spec_name(value: Any) -> Any:
    if isinstance(value, str) and not NAME_PATTERN.match(value):
        raise ValueError(f"name {value!r} may only use letters, digits, '_' and '-'")
    return value


class BlockUse(Strict):
    """Use of a reusable block: ``{type: block, block: residual, args: {...}, repeat: 2}``.

    ``first`` overrides arguments of copy 0; ``copy_names`` (``denselayer{n}``) names the
    copies instead of ``0, 1, ...``; ``when`` (inside a block) makes the use conditional.
    """

    type: Literal["block"]
    block: str
    args: dict[str, Any] = {}  # noqa: RUF012 - pydantic copies mutable defaults
    first: dict[str, Any] = {}  # noqa: RUF012
    repeat: PosInt | str = 1
    copy_names: str | None = None
    name: str | None = None
    inputs: str | None = None
    when: bool | str | None = None


class SequentialLayer(Strict):
    """``{type: sequential, name: features, layers: [...]}``: a chain of layers held in one
    ``nn.Sequential``, keyed by position (``features.0``) or by a member's own ``name``."""

    type: Literal["sequential"]
    name: str
    layers: list[Any] = Field(min_length=1)
    inputs: str | None = None
    when: bool | str | None = None


if TYPE_CHECKING:  # pydantic reads the discriminated union built at runtime below
    AnyLayer: TypeAlias = Layer | BlockUse | SequentialLayer
else:
    _Layers = Annotated[
        Union[(*LAYER_TYPES.values(), BlockUse, SequentialLayer)], Field(discriminator="type")
    ]
    AnyLayer = Annotated[
        _Layers,
        BeforeValidator(
            bare_name, json_schema_input_type=with_bare(_Layers, bare_types(LAYER_TYPES.values()))
        ),
    ]


class InputSpec(Strict):
    """The model input: the shape of one sample (no batch dimension) and its dtype."""

    shape: list[PosInt] = Field(min_length=1)
    dtype: Literal["float32", "int64"] = "float32"


class BlockDef(Strict):
    """A reusable, parameterised stack of layers.

    ``params`` maps parameter names to defaults (``null``: required; a default may be an
    expression over other parameters, ``$out * 4``); layers refer to a parameter as
    ``$name`` or in integer arithmetic (``$in * $t``); inside a block, ``input`` is the
    block's input, and a layer with ``when: COND`` exists only when COND holds.
    """

    params: dict[str, Any] = {}  # noqa: RUF012 - pydantic copies mutable defaults
    layers: list[Any] = Field(min_length=1)


class ModelSpec(Strict):
    input: InputSpec
    layers: list[AnyLayer] = Field(min_length=1)
    outputs: str | list[str] | None = None
    blocks: dict[str, BlockDef] = {}  # noqa: RUF012 - pydantic copies mutable defaults


class Spec(BaseModel):
    """A validated spec. ``source_path``, ``source`` and ``positions`` point back at the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    name: Annotated[str, BeforeValidator(_spec_name), Field(strict=True, min_length=1)]
    seed: Annotated[StrictInt, Field(ge=0, lt=2**32)] = 0
    model: ModelSpec
    loss: Loss | None = None
    optimizer: Optimizer | None = None
    scheduler: Scheduler | None = None
    data: DataSpec | None = None
    train: TrainSpec | None = None
    export: ExportSpec | None = None

    _source_path: str = PrivateAttr(default="<spec>")
    _source: str = PrivateAttr(default="")
    _positions: Any = PrivateAttr(default=None)
    _graph: Any = PrivateAttr(default=None)

    @property
    def source_path(self) -> str:
        """The spec file as the user named it."""
        return self._source_path

    @property
    def source(self) -> str:
        """The spec's text."""
        return self._source

    @property
    def positions(self):
        """:class:`specc.spec.load.Positions` of every key and value."""
        return self._positions

    @property
    def graph(self):
        """The lowered :class:`specc.ir.Graph` with every shape inferred."""
        return self._graph

    def line_of(self, key_path: tuple) -> int:
        """The spec line of the node at ``key_path`` (0 if unknown)."""
        return self._positions.locate(key_path)[0] if self._positions else 0
