"""Request and response models of the prediction API (and of batch prediction jobs)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# A flower measurement in centimetres: finite and positive (NaN and infinity are refused).
Centimetres = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]


# The four measurements of one flower.
class IrisFeatures(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sepal_length: Centimetres
    sepal_width: Centimetres
    petal_length: Centimetres
    petal_width: Centimetres

    def row(self, order: tuple[str, ...]) -> list[float]:
        """The values in the order the model expects."""
        values: dict[str, float] = self.model_dump()
        return [values[name] for name in order]


# What a client sends to classify flowers synchronously (larger batches go to /v1/jobs).
class PredictionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instances: Annotated[list[IrisFeatures], Field(min_length=1, max_length=100)]


# The classification of one flower.
class PredictionPublic(BaseModel):
    label: str
    class_index: int
    probabilities: dict[str, float]


# The classifications, in request order, with the model that made them.
class PredictionsPublic(BaseModel):
    model_name: str
    model_version: str
    predictions: list[PredictionPublic]


# A served model: what it predicts from what, and how it was trained.
class ModelPublic(BaseModel):
    name: str
    version: str
    classes: list[str]
    features: list[str]
    metadata: dict[str, str]


EXAMPLE_FEATURES = {
    "sepal_length": 5.1,
    "sepal_width": 3.5,
    "petal_length": 1.4,
    "petal_width": 0.2,
}
