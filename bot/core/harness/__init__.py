"""Stand-alone scripts that run inside the *target's* interpreter (stdlib + pytest only).

They are executed by path in subprocesses; the bot never imports target code itself.
"""

from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent
