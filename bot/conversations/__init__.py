"""The service conversations a utility's channel exists for (issue 13), as plain Python:
故障报修 (fault_report), 投诉/建议/表扬 (complaints), 停电公告 answers (outage_answers), and
their wording (wording). actions/service_forms.py is the thin Rasa side."""
