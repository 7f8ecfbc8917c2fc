"""The iris classifier, served from its ONNX file with onnxruntime (no scikit-learn, no pickle).

Load it once (API lifespan, or once per worker process) and share the instance: an
InferenceSession is safe to call from several threads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import onnxruntime

# Metadata every model file must carry (written by scripts/train_model.py).
REQUIRED_METADATA = ("name", "version", "classes", "features")


class ModelLoadError(RuntimeError):
    """The model file is missing, unreadable or lacks the metadata the service relies on."""


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one row."""

    class_index: int
    label: str
    probabilities: dict[str, float]


class IrisModel:
    """An ONNX classifier with its name, version, classes and feature order."""

    def __init__(self, session: Any, metadata: dict[str, str]) -> None:
        self._session = session
        self.metadata = MappingProxyType(metadata)
        self.name = metadata["name"]
        self.version = metadata["version"]
        self.classes: tuple[str, ...] = tuple(json.loads(metadata["classes"]))
        self.features: tuple[str, ...] = tuple(json.loads(metadata["features"]))

    @classmethod
    def load(cls, path: Path) -> IrisModel:
        """Open the model file, check its metadata and run it once."""
        options = onnxruntime.SessionOptions()
        # One thread per process: the API and every worker process each have their own session,
        # and more threads would only compete for the same cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:
            raise ModelLoadError(f"cannot load the model at {path} (MODEL_PATH): {error}") from None
        metadata = dict(session.get_modelmeta().custom_metadata_map)
        missing = [key for key in REQUIRED_METADATA if key not in metadata]
        if missing:
            raise ModelLoadError(f"the model at {path} lacks metadata {', '.join(missing)}")
        model = cls(session, metadata)
        model.predict([[1.0] * len(model.features)])  # fail now, not on the first request
        return model

    def predict(self, rows: Sequence[Sequence[float]]) -> list[Prediction]:
        """Classify rows of features given in `self.features` order."""
        inputs = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(self.features))
        labels, probabilities = self._session.run(["label", "probabilities"], {"features": inputs})
        return [
            Prediction(
                class_index=int(index),
                label=self.classes[int(index)],
                probabilities={
                    name: round(float(p), 6) for name, p in zip(self.classes, row, strict=True)
                },
            )
            for index, row in zip(labels, probabilities, strict=True)
        ]
