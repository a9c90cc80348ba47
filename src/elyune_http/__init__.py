"""The REST API of Elyune (aiohttp)."""
