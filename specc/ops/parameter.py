"""``parameter``: a learned tensor (a class token, a position embedding), the same for every sample.

It is stored as ``nn.Parameter`` of shape ``[1, *shape]``, as torchvision stores ``class_token``
and ``pos_embedding``, so their checkpoints load, and expanded over the batch in ``forward``.
Its input is read only for the batch size: by default the previous layer, or ``inputs: input``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from specc.ops.base import Inferred, Layer, PosInt, PositiveFloat, Shape, SourceLines, fmt_int

#: ViT's position-embedding std, the default for ``normal`` and ``trunc_normal``
DEFAULT_STD = 0.02


class Parameter(Layer):
    """A learned ``[*shape]`` per sample, held as ``nn.Parameter`` ``[1, *shape]``.

    Shapes: any input ``[...]`` (only its batch size is used) -> ``[*shape]``.
    """

    type: Literal["parameter"]
    shape: Annotated[list[PosInt], Field(min_length=1)]
    init: Literal["zeros", "normal", "trunc_normal"] = "zeros"
    std: PositiveFloat | None = None
    accepts_int = True  # the input only gives the batch size

    @field_validator("std")
    @classmethod
    def _std_needs_random_init(cls, std: float | None, info: ValidationInfo) -> float | None:
        if std is not None and info.data.get("init", "zeros") == "zeros":
            raise ValueError("std applies to init 'normal' or 'trunc_normal', not 'zeros'")
        return std

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        count = math.prod(self.shape)
        return Inferred(
            shape=tuple(self.shape),
            params=count,
            explain=[
                f"parameter: {list(self.shape)} learned ({self.init}), "
                f"{fmt_int(count)} parameters, expanded over the batch"
            ],
        )

    def init_source(self, inferred: Inferred) -> str:
        """``nn.Parameter(torch.zeros(1, 1, 768))`` or with ``normal_``/``trunc_normal_``."""
        sizes = ", ".join(map(str, (1, *self.shape)))
        if self.init == "zeros":
            return f"nn.Parameter(torch.zeros({sizes}))"
        std = DEFAULT_STD if self.std is None else self.std
        if self.init == "normal":
            return f"nn.Parameter(torch.empty({sizes}).normal_(std={std!r}))"
        return f"nn.Parameter(nn.init.trunc_normal_(torch.empty({sizes}), std={std!r}))"

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = self.class_token.expand(x.shape[0], -1, -1)``."""
        keep = ", ".join(["-1"] * len(self.shape))
        return [(f"{out} = {attr}.expand({args[0]}.shape[0], {keep})", inferred.shape)]
