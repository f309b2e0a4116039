"""Alembic migrations of the hub's schema, shipped in the package and run by ``HubStore.migrate()``."""
