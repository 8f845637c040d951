"""Alembic's entry point for the read-model migrations: migrates the connection that
`casebook_case.projections.migrations.upgrade` (or `revision`) hands over, in its
transaction."""

from alembic import context

from casebook_case.projections.migrations import VERSION_TABLE
from casebook_case.projections.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # e.g. the alembic command line, which would bring no lock
    raise RuntimeError("run the read-model migrations through casebook_case.projections.migrations")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    # SQLite alters a table by copying it: later revisions get that for free.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
