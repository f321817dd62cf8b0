"""The articlebot command line: click commands (`commands.py`), how evaluations are printed
(`evaluation.py`), and how answers and refusals are worded (`wording.py`)."""
