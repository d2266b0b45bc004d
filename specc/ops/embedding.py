"""``embedding``: integer token ids ``[...]`` -> vectors ``[..., embedding_dim]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import StrictInt, ValidationInfo, field_validator

from specc.ops.base import Inferred, Layer, PosInt, Shape, ShapeError, call, fmt_int


class Embedding(Layer):
    """``nn.Embedding(num_embeddings, embedding_dim)``; the input must be int64 token ids.

    Shapes: ``[*] (int64) -> [*, embedding_dim] (float32)``.
    """

    accepts_int = True

    type: Literal["embedding"]
    num_embeddings: PosInt
    embedding_dim: PosInt
    padding_idx: StrictInt | None = None
    torch_class = "nn.Embedding"

    @field_validator("padding_idx")
    @classmethod
    def _padding_in_range(cls, padding_idx: int | None, info: ValidationInfo) -> int | None:
        n = info.data.get("num_embeddings")
        if padding_idx is not None and n is not None and not -n <= padding_idx < n:
            raise ValueError(
                f"{padding_idx} is not a token id: with num_embeddings {n} it must be in "
                f"[-{n}, {n - 1}]"
            )
        return padding_idx

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        if dtypes[0] != "int64":
            raise ShapeError(
                f"embedding needs integer token ids, but its input is {dtypes[0]}; "
                "set `model.input.dtype: int64` and feed the embedding the model input"
            )
        n, dim = self.num_embeddings, self.embedding_dim
        params = n * dim
        return Inferred(
            shape=(*shape, dim),
            params=params,
            explain=[
                f"embedding: {list(shape)} token ids -> {list((*shape, dim))}",
                f"embedding: {n}*{dim} = {fmt_int(params)} parameters",
            ],
            dtype="float32",
        )

    def init_source(self, inferred: Inferred) -> str:
        return call(
            "nn.Embedding", [self.num_embeddings, self.embedding_dim], padding_idx=self.padding_idx
        )
