"""Rasa SDK action server: `rasa run actions` (thin actions; the logic lives in bot/)."""
