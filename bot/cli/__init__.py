"""The articlebot command line: click commands (`commands.py`) and how evaluations are printed."""
