"""The store's Alembic migrations, run by :func:`listonosz.store.upgrade` (no alembic.ini).

A new revision (after changing ``listonosz/store/schema.py``)::

    python -c "from alembic import command; from listonosz.store.engine import alembic_config; \
command.revision(alembic_config(), 'what it changes', rev_id='0003')"

then write its ``upgrade()`` with ``op`` calls, and freeze the columns in it (never import
``schema``): a migration describes the schema as it was on that day.
"""
