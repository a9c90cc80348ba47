"""The ``elyune`` command line: process files, manage recordings, users and the database."""

from elyune_cli.app import app, main

__all__ = ["app", "main"]
