"""Alembic environment for the one schema of the orders database: the work-order tables
(bot/orders/models.py) and the console's (bot/console/tables.py).

Three ways in, first match wins:
1. bot.db.upgrade_to_head (each store's ensure_schema) passes an open connection
   (config.attributes["connection"]) that is already inside its locked transaction — we must
   neither commit nor close it;
2. ``alembic -x url=...``;
3. bot.settings.load().orders_url (ORDERS_DB_URL, default the SQLite file under var/).
"""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from bot.console.tables import metadata as console_metadata
from bot.db import VERSION_TABLE, make_engine
from bot.orders.models import metadata as orders_metadata

config = context.config
# Every table this tree migrates, so autogenerate and the schema tests compare all of them.
metadata = [orders_metadata, console_metadata]
# Only the command line configures logging; inside the bot the application owns it.
if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.settings import load

    return load().orders_url


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode rebuilds the table for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, version_table=VERSION_TABLE,
                      literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
