"""Cross-cutting parts: settings, logging, errors, middleware."""
