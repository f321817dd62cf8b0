"""Scoring the engine on question sets, follow-up conversations and SQuAD-style files."""
