"""The service package: `app.main.create_app` builds the ASGI application."""
