"""Keys of what the app and its requests carry."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from elyune_adapters.container import Container
from elyune_adapters.ratelimit import RateLimiter
from elyune_adapters.settings import Settings
from elyune_core import User
from elyune_http.caches import TokenCache, UseCases
from elyune_http.links import SubtitleLinks

CONTAINER = web.AppKey("container", Container)
SETTINGS = web.AppKey("settings", Settings)
LIMITER = web.AppKey("limiter", RateLimiter)
TOKENS = web.AppKey("tokens", TokenCache)
SUBTITLES = web.AppKey("subtitles", SubtitleLinks)
USE_CASES = web.AppKey("use_cases", UseCases)

USER = web.RequestKey("user", User)
REQUEST_ID = web.RequestKey("request_id", str)
TOKEN_EXPIRES = web.RequestKey("token_expires", datetime)  # of the request's access token
