"""Model serving: the ONNX classifier and its request and response models."""
