"""Alembic environment for the hub: always run with a connection handed in by ``HubStore.migrate()``.

There is no alembic.ini at runtime; the store builds the ``Config`` and passes its open connection
in ``config.attributes["connection"]``, inside the transaction that also holds the migration lock.
For ``alembic revision --autogenerate`` during development, pass ``-x url=...`` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hub.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise RuntimeError("no connection given: run through HubStore.migrate() or pass -x url=...")
    engine = create_engine(url)
    with engine.begin() as own_connection:
        context.configure(connection=own_connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported for the hub")
run_migrations_online()
