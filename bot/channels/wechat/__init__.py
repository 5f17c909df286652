"""The WeChat official-account (公众号) channel: channel.py (the Rasa input channel, its webhook
and output channel), api.py (access token, 客服消息), format.py (WeChat's limits and wording).

credentials.yml names ``bot.channels.wechat.WeChatInput``: the class is exported here.
"""
from bot.channels.wechat.channel import NOT_CONFIGURED, WeChatConfig, WeChatInput, WeChatOutput  # noqa: F401
