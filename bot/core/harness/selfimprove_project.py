"""Where the target's test run is, shared by the harness plugin's modules (target's
interpreter, standard library only): the checkout, the test running now, and the attributes
patched for the run (restored in reverse order when the test loop ends)."""

from __future__ import annotations

import base64
import os
from typing import Any

PROJECT = os.path.realpath(os.getcwd())
UNWRAP: list[tuple[Any, str, Any]] = []  # (holder, name, original): None deletes the name
RUNNING: list[str | None] = [None]  # the node id of the test running now


def inside_project(path):
    real = os.path.realpath(path)
    return real == PROJECT or real.startswith(PROJECT + os.sep)


def relative(path):
    return os.path.relpath(os.path.realpath(path), PROJECT).replace(os.sep, "/")


def b64(data):
    return base64.b64encode(data).decode("ascii")
