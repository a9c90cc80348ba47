"""The REST API of Elyune (aiohttp): ``create_app(settings)`` builds it."""

from elyune_http.app import create_app, run

__all__ = ["create_app", "run"]
