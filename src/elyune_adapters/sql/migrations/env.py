"""Alembic environment: migrations run on a connection handed over by ``engine.upgrade``."""

from alembic import context

from elyune_adapters.sql.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by calling alembic directly
    raise RuntimeError("Run migrations with `elyune db upgrade`.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
