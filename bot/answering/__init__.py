"""Answering: retrieve, select sentences, cite, or refuse (Telegram-free)."""
