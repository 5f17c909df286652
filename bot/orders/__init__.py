"""Work orders (工单): what happens when an answer fails.

A failed answer opens exactly one order per conversation partner, carrying the complete
conversation, with a number (GD + date + sequence) and a due time (sla.yml). Staff handle it
through ``python -m bot orders …`` or the console: 待处理 → 处理中 → 已办结 → 已回访 → 已关闭.

Modules: models (tables), store (the only SQL), service (the API actions call), transcript
(Rasa events → messages), numbering, sla, phone, spool (requests made while the DB is down),
cli (staff subcommands). Migrations: migrations/ (alembic.ini at the repo root).
"""
from bot.orders.phone import PhoneError, normalise_phone
from bot.orders.service import (
    EventView,
    OpenResult,
    OrderError,
    OrderNotFound,
    OrderService,
    OrderView,
    StoreUnavailable,
    TransitionError,
    describe_for_customer,
)
from bot.orders.transcript import Msg, from_rasa_events

__all__ = [
    "EventView", "Msg", "OpenResult", "OrderError", "OrderNotFound", "OrderService", "OrderView",
    "PhoneError", "StoreUnavailable", "TransitionError", "describe_for_customer", "from_rasa_events",
    "normalise_phone",
]
