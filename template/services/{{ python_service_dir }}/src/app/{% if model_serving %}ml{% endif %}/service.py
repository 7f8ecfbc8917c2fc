"""Classification shared by the prediction route and batch prediction jobs."""

from __future__ import annotations

from collections.abc import Sequence

from app.ml.model import IrisModel
from app.ml.schemas import IrisFeatures, PredictionPublic, PredictionsPublic


def classify(*, model: IrisModel, instances: Sequence[IrisFeatures]) -> PredictionsPublic:
    """Run the model on instances, answering in request order."""
    rows = [instance.row(model.features) for instance in instances]
    return PredictionsPublic(
        model_name=model.name,
        model_version=model.version,
        predictions=[
            PredictionPublic(
                label=p.label, class_index=p.class_index, probabilities=p.probabilities
            )
            for p in model.predict(rows)
        ],
    )
