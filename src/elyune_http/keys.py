"""Keys of what the app and its requests carry."""

from __future__ import annotations

from aiohttp import web

from elyune_adapters.container import Container
from elyune_adapters.ratelimit import RateLimiter
from elyune_adapters.settings import Settings
from elyune_core import User
from elyune_http.caches import TokenCache

CONTAINER = web.AppKey("container", Container)
SETTINGS = web.AppKey("settings", Settings)
LIMITER = web.AppKey("limiter", RateLimiter)
TOKENS = web.AppKey("tokens", TokenCache)

USER = web.RequestKey("user", User)
REQUEST_ID = web.RequestKey("request_id", str)
