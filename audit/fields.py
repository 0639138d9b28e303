"""A list of ids in one column: a `bigint[]` on PostgreSQL (GIN-indexed: "which rows name patient
42" is an index lookup), a JSON text list on SQLite (the demo database, a few thousand rows).

One column rather than a child table keeps a read of a whole page of patients to one INSERT; the
two lookups below are the only ways the access log queries it (benchmarks/audit.py measures both).
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression
from django.db.models.sql.compiler import SQLCompiler


class IdArrayField(models.Field):
    description = "A list of integer ids"

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "bigint[]" if connection.vendor == "postgresql" else "text"

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        if value is None:
            return None
        ids = sorted({int(pk) for pk in value})
        return ids if connection.vendor == "postgresql" else json.dumps(ids)

    def from_db_value(
        self, value: Any, expression: Expression, connection: BaseDatabaseWrapper
    ) -> list[int] | None:
        if value is None or isinstance(value, list):
            return value
        return [int(pk) for pk in json.loads(value)]

    def to_python(self, value: Any) -> list[int] | None:
        if value is None or isinstance(value, list):
            return value
        return [int(pk) for pk in json.loads(value)]


class _IdsLookup(models.Lookup):
    """`ids__<name>=<id or ids>`: the right-hand side is one id or an iterable of ids."""

    prepare_rhs = False

    def _ids(self) -> list[int]:
        rhs = self.rhs
        return [int(rhs)] if isinstance(rhs, int | str) else sorted({int(pk) for pk in rhs})

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        raise NotImplementedError(f"{self.lookup_name} on {connection.vendor}")


@IdArrayField.register_lookup
class HasAny(_IdsLookup):
    """Rows whose list names any of the ids (`&&`, which the GIN index serves)."""

    lookup_name = "has_any"

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} && %s::bigint[]", [*lhs_params, self._ids()]

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = self._ids()
        if not ids:
            return "0 = 1", []
        marks = ", ".join(["%s"] * len(ids))
        # lhs is the column Django quoted; the ids are parameters.
        sql = f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.value IN ({marks}))"  # noqa: S608
        return sql, [*lhs_params, *ids]
