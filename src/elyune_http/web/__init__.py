"""The web app served at ``/``: one page, its ES modules and CSS (package data, no CDN),
and the browser's session routes.

The page uses the public REST API with a short-lived access token it keeps in memory
only. The refresh token never reaches a script: it lives in an ``HttpOnly;
SameSite=Strict`` cookie whose ``Path`` is ``/app/session/``, so the browser sends it to
the session routes alone; those routes refuse a request without the CSRF header that
matches the ``elyune_csrf`` cookie (double submit) or from another origin.
"""

from __future__ import annotations

from elyune_http.web.routes import PAGE_HEADERS, setup

__all__ = ["PAGE_HEADERS", "setup"]
