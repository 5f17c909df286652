"""在线人工 (issue 15): 转人工 reaches a person in the same chat when one is on duty.

- ``hours.py``: the service hours (Beijing time).
- ``queue.py``: the customer's side, called by the actions and the channels: join the queue or get
  a work order, leave the queue, rate the chat, and "is an agent holding this conversation?".
- ``rasa_api.py``: the console's client of Rasa's HTTP API (pause, resume, record, trigger).
- ``desk.py``: the agent's side, called by the console: status, accept, send, 转交, 结束, and the
  sweep that turns expired waits into work orders, re-queues chats whose agent dropped, retries
  tracker writes and delivers WeChat messages.

The state lives in the work-order database (bot/orders/livechat.py); while an agent holds a chat
the Rasa tracker is paused (ConversationPaused), so the bot stays silent by Rasa's own mechanism
and every message on both sides is still recorded in the tracker.
"""
