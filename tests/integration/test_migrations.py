"""The Alembic migrations build exactly the schema the models describe (no drift either way)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.db import db as handle


def test_the_migrated_database_matches_the_models(app):
    with app.app_context(), handle.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), handle.metadata)
    assert differences == [], "a model changed without a migration (flask --app services.ops db migrate)"
