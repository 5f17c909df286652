"""What any plain-text messaging channel with WeChat's rules reuses (WeChat today; 企业微信 and
微信客服 have the same 5-second passive reply, retries and text limits):

- store.py:   the state several Rasa processes share (Redis, or memory for one process)
- turns.py:   one Rasa turn per message id across retries and processes, one delivery of its answer
- buttons.py: Rasa messages as text with numbered buttons; a reply "1" picks the first, remembered
              per customer
- split.py:   a long answer cut into byte-limited, numbered parts

Each takes the channel's name as a key prefix, so two channels can share one Redis.
"""
