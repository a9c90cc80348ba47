"""End-to-end tests reuse the API fixtures of tests/http."""

from tests.http.conftest import api, make_api

__all__ = ["api", "make_api"]
