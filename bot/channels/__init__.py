"""Rasa input channels of 电力服务助手 (registered in credentials.yml).

- webchat: the customer web chat page, GET /webhooks/webchat/ (webchat.py, static files in webchat_static/)
- wechat:  the WeChat official account (wechat/), on the parts any text channel reuses (common/)
"""
