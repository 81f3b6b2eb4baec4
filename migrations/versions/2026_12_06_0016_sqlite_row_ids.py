"""row ids never reused on SQLite: AUTOINCREMENT on the tables whose ids reach URLs, ETags and
the audit

Revision ID: 0016_sqlite_row_ids
Revises: 0015_patient_id_lower
Create Date: 2026-12-06 12:15:00

SQLite gives a new row the highest id plus one, so deleting the newest observation gave its id
(and, with version 1, its ETag) to the next observation recorded on any lesion: an old URL or
If-Match then reached another lesion's visit. PostgreSQL's sequences never reuse an id; with
AUTOINCREMENT SQLite does not either. SQLite takes AUTOINCREMENT only on a column's own
PRIMARY KEY, so each table is rebuilt from its stored CREATE statement with the key moved onto
`id` and nothing else changed (column constraints stay where they are: later downgrades drop
columns natively), its rows copied with their ids and its indexes created again, foreign keys
off as for every migration here (a generated column, the alerts' sort rank, is computed again,
not copied); `sqlite_sequence` starts at the highest id copied. `patients` is left as it is:
its rows are reached by their external id. Nothing changes on PostgreSQL.
"""
import re
from collections.abc import Callable, Sequence

from alembic import op
from sqlalchemy import text

revision: str = '0016_sqlite_row_ids'
down_revision: str | None = '0015_patient_id_lower'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, not read from the models: a migration records the schema as it was written.
TABLES = ('users', 'api_tokens', 'lesions', 'observations', 'treatments', 'assessments',
          'transitions', 'alerts', 'audit_events', 'prognosis_fits', 'sr_reports', 'key_images',
          'pacs_write_backs')
PLAIN_ID = '\tid INTEGER NOT NULL, \n'
OWN_ID = '\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \n'


def _own_key(name: str, sql: str) -> str:
    # the table's key constraint, the last item (its comma before it) or another (comma after)
    key = re.compile(r'(, \n\tCONSTRAINT pk_%s PRIMARY KEY \(id\)(?=\n\)$)'
                     r'|\tCONSTRAINT pk_%s PRIMARY KEY \(id\), \n)' % (name, name))
    if PLAIN_ID not in sql or len(key.findall(sql)) != 1:
        raise RuntimeError(f'{name}: its CREATE statement is not the one this migration knows')
    return key.sub('', sql.replace(PLAIN_ID, OWN_ID, 1))


def _table_key(name: str, sql: str) -> str:
    if sql.count(OWN_ID) != 1 or not sql.endswith('\n)'):
        raise RuntimeError(f'{name}: its CREATE statement is not the one this migration wrote')
    return (sql.replace(OWN_ID, PLAIN_ID, 1)[:-2]
            + f', \n\tCONSTRAINT pk_{name} PRIMARY KEY (id)\n)')


def _rebuild(change: Callable[[str, str], str]) -> None:
    conn = op.get_bind()
    if conn.dialect.name != 'sqlite':
        return
    for name in TABLES:
        sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND "
                                "name = :t"), {'t': name}).scalar_one()
        indexes = list(conn.execute(text(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND "
            "sql IS NOT NULL"), {'t': name}).scalars())
        temp = f'_rebuild_{name}'
        create = re.sub(r'^CREATE TABLE "?%s"? \(' % name, f'CREATE TABLE {temp} (',
                        change(name, sql))
        conn.exec_driver_sql(create)
        stored = ', '.join(f'"{row[1]}"' for row in conn.exec_driver_sql(
            f'PRAGMA table_xinfo({name})') if row[6] == 0)  # not a generated column
        conn.exec_driver_sql(f'INSERT INTO {temp} ({stored}) SELECT {stored} FROM {name}')
        conn.exec_driver_sql(f'DROP TABLE {name}')
        conn.exec_driver_sql(f'ALTER TABLE {temp} RENAME TO {name}')
        for index in indexes:
            conn.exec_driver_sql(index)


def upgrade() -> None:
    _rebuild(_own_key)


def downgrade() -> None:
    _rebuild(_table_key)
