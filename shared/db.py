"""The Flask-SQLAlchemy handle shared by the auth and API services."""
from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names keep Alembic migrations reproducible.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Objects keep their values after commit: a view dumps what it just wrote without reloading it.
# Every request (and every relay iteration) gets a fresh session, so nothing stays stale for long.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
