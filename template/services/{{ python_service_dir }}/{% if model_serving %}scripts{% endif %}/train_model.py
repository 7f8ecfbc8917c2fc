"""Train the iris classifier and write it as ONNX to models/iris.onnx.

    uv run --group train python scripts/train_model.py

scikit-learn's bundled iris data (no download), a fixed seed, a stratified hold-out set whose
accuracy is printed and stored in the model. The ONNX file carries its name, version and training
metadata in `metadata_props`, which the service reads back with onnxruntime; serving needs neither
scikit-learn nor pickle. Bump MODEL_VERSION when the model changes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import skl2onnx
import sklearn
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL_NAME = "iris-classifier"
MODEL_VERSION = "1.0.0"
SEED = 42
# Feature names as the API spells them, in the order the model expects them.
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
OUTPUT = Path(__file__).resolve().parents[1] / "models" / "iris.onnx"


def main() -> None:
    iris = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.3, random_state=SEED, stratify=iris.target
    )
    classifier = LogisticRegression(max_iter=1000, random_state=SEED)
    pipeline = make_pipeline(StandardScaler(), classifier)
    pipeline.fit(x_train, y_train)
    accuracy = float(accuracy_score(y_test, pipeline.predict(x_test)))

    model = convert_sklearn(
        pipeline,
        name=MODEL_NAME,
        initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
        # Plain tensors out (`label`, `probabilities`), not a list of dicts.
        options={id(classifier): {"zipmap": False}},
        target_opset={"": 18, "ai.onnx.ml": 3},
    )
    onnx.helper.set_model_props(
        model,
        {
            "name": MODEL_NAME,
            "version": MODEL_VERSION,
            "classes": json.dumps([str(name) for name in iris.target_names]),
            "features": json.dumps(FEATURES),
            "dataset": "scikit-learn load_iris (bundled)",
            "algorithm": "StandardScaler + LogisticRegression",
            "seed": str(SEED),
            "train_rows": str(len(x_train)),
            "test_rows": str(len(x_test)),
            "test_accuracy": f"{accuracy:.4f}",
            "scikit_learn_version": sklearn.__version__,
            "skl2onnx_version": skl2onnx.__version__,
        },
    )
    model.doc_string = "Iris species from four flower measurements in centimetres."
    onnx.checker.check_model(model)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(model.SerializeToString())

    # The exported model must agree with scikit-learn on the held-out rows.
    import onnxruntime

    session = onnxruntime.InferenceSession(str(OUTPUT), providers=["CPUExecutionProvider"])
    labels = session.run(["label"], {"features": x_test.astype(np.float32)})[0]
    if not np.array_equal(labels, pipeline.predict(x_test)):
        sys.exit("the ONNX model disagrees with scikit-learn on the held-out set")
    print(f"{MODEL_NAME} {MODEL_VERSION}: held-out accuracy {accuracy:.4f} on {len(x_test)} rows")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
