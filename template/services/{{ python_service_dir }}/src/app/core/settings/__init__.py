"""Settings, per part of the service: app.core.config combines them into `Settings`."""
