"""``python -m elyune_cli`` runs the ``elyune`` command."""

from elyune_cli.app import main

main()
