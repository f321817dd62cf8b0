"""The articlebot command line: click commands (`commands.py`), `articlebot serve`, which
starts the Telegram bot (`serve.py`, imported only when asked for), how evaluations are
printed (`evaluation.py`), and how answers and refusals are worded (`wording.py`)."""
