"""articlebot's Telegram face: the same engine as `articlebot ask`, behind a PTB Application.

app.py         builds the Application, registers handlers (in a documented order)
handlers.py    the callbacks: commands, questions, Sources button, explanations, errors
services.py    what the callbacks share: `context.bot_data`, one typed Services
updates.py     the parts of an update a callback is known to get (message, button press)
threads.py     blocking work off the event loop: the engine's threads, the writer thread
live_message.py  a message edited in place from a worker thread (drafts, admin status)
filters.py     who the bot listens to in groups (mentions, replies)
formatting.py  answers as Telegram HTML; splitting long messages
sources.py     the Sources button and the replies it can reopen
limits.py      the per-user flood guard; flood_guard.py applies it to callbacks (`limited`)
texts.py       what the bot says, in English and Chinese
redaction.py   keeps the token out of logs
webhook.py     webhook mode: our webhook server (updates and probes) and `run_webhook`
health.py      /healthz and /readyz, and the probe server for long polling (HEALTH_PORT)
"""

from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.webhook import Webhook, run_webhook

__all__ = ["ALLOWED_UPDATES", "Webhook", "build_application", "run_webhook"]
