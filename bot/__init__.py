"""电力服务助手: the assistant's own Python package (knowledge base, work orders, channels, console)."""
