"""asyncpg pools and versioned SQL migrations. Mechanism only: each service owns its SQL."""

from .migrations import Migration, MigrationChanged, MigrationSet, apply_migrations, load_migrations
from .pool import Connection, create_pool

__all__ = [
    "Connection", "Migration", "MigrationChanged", "MigrationSet", "apply_migrations", "create_pool", "load_migrations",
]
