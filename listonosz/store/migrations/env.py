"""Alembic's entry point: migrate the connection :func:`listonosz.store.upgrade` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from listonosz.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:  # a developer's alembic command (e.g. autogenerate) with sqlalchemy.url set
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata)
        context.run_migrations()
