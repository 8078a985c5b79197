"""Idempotent writes under concurrency: INSERT ... ON CONFLICT DO NOTHING on the table's
unique key, so two hubs sending the same id at once never both create it and neither fails.

The unique constraint decides who creates a row, not a read before the write: a read
cannot see another transaction's uncommitted insert, a unique index can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

T = TypeVar("T")


def _insert(db: Session, model: type):  # type: ignore[no-untyped-def]
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        return None
    return dialect_insert(model)


def insert_new(
    db: Session, model: type, rows: Sequence[Mapping[str, Any]], key: Sequence[str]
) -> list[Any]:
    """Insert the ``rows`` whose ``key`` is not stored yet; return the primary keys of those
    this call created (rows already stored, or inserted concurrently, are left alone)."""
    if not rows:
        return []
    pk = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
    stmt = _insert(db, model)
    if stmt is None:
        # Another backend: a plain insert; a racing duplicate is an IntegrityError (409).
        return list(db.scalars(insert(model).returning(pk), list(rows)))
    stmt = stmt.on_conflict_do_nothing(index_elements=list(key)).returning(pk)
    return list(db.scalars(stmt, list(rows)))


def claim(
    db: Session, model: type[T], key: Mapping[str, Any], initial: Mapping[str, Any]
) -> tuple[T, bool]:
    """Return the row with ``key`` locked for update, and whether this call created it
    (with ``key`` and ``initial`` values; the caller then sets the rest and commits)."""
    created = bool(insert_new(db, model, [{**key, **initial}], list(key)))
    stmt = select(model).filter_by(**key).with_for_update()
    row = db.scalars(stmt.execution_options(populate_existing=True)).one()
    return row, created
