"""CLI commands. Each module exposes ``register(app)``; behaviour lives in functions tests can call."""
