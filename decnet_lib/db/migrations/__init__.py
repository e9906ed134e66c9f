"""Alembic migrations of the master database (shipped inside the package)."""
