"""Set-based statements behind the adapter's bulk methods, in two flavours.

:class:`PortableBulk` works on every dialect: ``IN`` lists in chunks, ``executemany`` INSERT/UPDATE (which SQLAlchemy
batches into multi-row statements). :class:`PostgresBulk` sends each operation as one statement whatever the row count, with
one array parameter per column (``= ANY(array)``, ``INSERT ... SELECT FROM unnest(...)``, ``UPDATE ... FROM unnest(...)``):
the driver then dumps a few arrays instead of parsing a statement with tens of thousands of placeholders, which keeps
a 50,000-contact sync close to the speed of ``COPY``. ``copy_in`` (our link rows) is a ``COPY``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql.compiler import InsertmanyvaluesSentinelOpts

#: Values per ``IN (...)`` list: well under SQLite's and PostgreSQL's bound-parameter limits.
IN_CHUNK = 2000

AnySession = Session | scoped_session[Session]


class PortableBulk:
    def __init__(self, session: AnySession) -> None:
        self.session = session

    def matching(self, expr: ColumnElement[Any], values: Sequence[Any]) -> Iterator[ColumnElement[bool]]:
        """Conditions that together select the rows whose ``expr`` is in ``values`` (one per chunk)."""
        for start in range(0, len(values), IN_CHUNK):
            yield expr.in_(values[start : start + IN_CHUNK])

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]], returning: Column[Any] | None) -> list[Any]:
        """Insert ``rows`` (keyed by column key); with ``returning``, that column's values in the order of ``rows``."""
        if returning is None:
            self.session.execute(insert(table), rows)
            return []
        if _is_autoincrement(returning) and not self._orders_returning():
            # RETURNING rows cannot be tied to parameters here (SQLite), but autoincrement ids grow in insertion order.
            return sorted(self.session.execute(insert(table).returning(returning), rows).scalars())
        statement = insert(table).returning(returning, sort_by_parameter_order=True)
        return list(self.session.execute(statement, rows).scalars())

    def copy_in(self, table: Table, keys: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows (tuples of the ``keys`` columns' values) that need nothing back, as fast as the dialect can."""
        if rows:
            self.insert(table, [dict(zip(keys, row, strict=True)) for row in rows], returning=None)

    def update(
        self,
        table: Table,
        key: Column[Any],
        scope: ColumnElement[bool],
        columns: Sequence[Column[Any]],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """Set ``columns`` to ``row[1:]`` on the row whose ``key`` is ``row[0]`` and that matches ``scope``."""
        statement = (
            update(table)
            .where(key == bindparam("_key"), scope)
            .values({column.key: bindparam(f"_v{i}") for i, column in enumerate(columns)})
        )
        params = [{"_key": row[0], **{f"_v{i}": value for i, value in enumerate(row[1:])}} for row in rows]
        self.session.execute(statement, params)

    def _orders_returning(self) -> bool:
        """Whether the dialect can order a batched INSERT's RETURNING rows by parameter without going row by row."""
        sentinel = self.session.get_bind().dialect.insertmanyvalues_implicit_sentinel
        return not sentinel & InsertmanyvaluesSentinelOpts.NOT_SUPPORTED


class PostgresBulk(PortableBulk):
    def matching(self, expr: ColumnElement[Any], values: Sequence[Any]) -> Iterator[ColumnElement[bool]]:
        if values:
            yield expr == any_(_array("_values", values, expr.type))

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]], returning: Column[Any] | None) -> list[Any]:
        if not rows or (returning is not None and not _is_autoincrement(returning)):
            return super().insert(table, rows, returning)  # ids the database makes up in no particular order
        columns, values = _column_values(table, rows)
        source = _unnest(columns, values, ordinality=True)
        select_rows = select(*(source.c[f"_v{i}"] for i in range(len(columns)))).order_by(source.c._ord)
        statement = insert(table).from_select(columns, select_rows)
        if returning is None:
            self.session.execute(statement)
            return []
        # INSERT ... SELECT ... ORDER BY draws sequence values in that order, so ascending ids follow ``rows``.
        return sorted(self.session.execute(statement.returning(returning)).scalars())

    def copy_in(self, table: Table, keys: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """``COPY ... FROM STDIN`` on the session's connection, inside its transaction: the fastest way in. Values go
        through the columns' bind processors first, as they would in a statement; Python-side defaults of columns
        not in ``keys`` are computed per row."""
        if not rows:
            return
        columns = [table.c[key] for key in keys]
        defaults = [c for c in table.columns if c.key not in keys and c.default is not None and c.default.is_callable]
        dialect = self.session.get_bind().dialect
        processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in (*columns, *defaults)]
        self.session.flush()  # COPY bypasses autoflush; pending ORM changes go first, as before any statement
        driver = self.session.connection().connection.driver_connection
        preparer = dialect.identifier_preparer
        names = ", ".join(preparer.quote(column.name) for column in (*columns, *defaults))
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {preparer.format_table(table)} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                values = (*row, *(column.default.arg(None) for column in defaults))  # type: ignore[union-attr]
                copy.write_row(
                    [
                        value if process is None else process(value)
                        for value, process in zip(values, processors, strict=True)
                    ]
                )

    def update(
        self,
        table: Table,
        key: Column[Any],
        scope: ColumnElement[bool],
        columns: Sequence[Column[Any]],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        source = _unnest([key, *columns], [list(values) for values in zip(*rows, strict=True)])
        statement = (
            update(table)
            .where(key == source.c._v0, scope)
            .values({column.key: source.c[f"_v{i}"] for i, column in enumerate(columns, start=1)})
        )
        self.session.execute(statement)


def bulk_for(session: AnySession) -> PortableBulk:
    return PostgresBulk(session) if session.get_bind().dialect.name == "postgresql" else PortableBulk(session)


def _array(name: str, values: Sequence[Any], item_type: Any) -> Any:
    return bindparam(name, list(values), type_=ARRAY(item_type))


def _unnest(columns: Sequence[Column[Any]], values: Sequence[Sequence[Any]], *, ordinality: bool = False) -> Any:
    """``unnest(:_a0, :_a1, ...) AS anon(_v0, _v1, ...[, _ord])``: one array parameter per column."""
    arrays = [
        _array(f"_a{i}", column_values, column.type)
        for i, (column, column_values) in enumerate(zip(columns, values, strict=True))
    ]
    names = [f"_v{i}" for i in range(len(columns))]
    return func.unnest(*arrays).table_valued(*names, with_ordinality="_ord" if ordinality else None).render_derived()


def _column_values(table: Table, rows: Sequence[Mapping[str, Any]]) -> tuple[list[Column[Any]], list[list[Any]]]:
    """The columns of ``rows`` and each one's values, plus per-row values of the Python-side defaults the rows lack
    (which ``INSERT ... SELECT`` would compute only once). Column lists rather than completed copies of the rows: at
    100,000 rows, copies would raise a worker's peak memory by a hundred megabytes."""
    columns = [table.c[key] for key in rows[0]]
    values = [[row[column.key] for row in rows] for column in columns]
    for column in table.columns:
        if column.key not in rows[0] and column.default is not None and column.default.is_callable:
            columns.append(column)
            values.append([column.default.arg(None) for _ in rows])  # type: ignore[union-attr]
    return columns, values


def _is_autoincrement(column: Column[Any]) -> bool:
    return column.table.autoincrement_column is column
