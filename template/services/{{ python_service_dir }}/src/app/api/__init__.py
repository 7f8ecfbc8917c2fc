"""HTTP layer: routers, dependencies."""
