"""``llm`` in ``[tool.selfimprove]``, ``--llm`` and ``SELFIMPROVE_LLM`` → :class:`LLMSettings`.

``llm`` is either the chain as a string (``"anthropic:<model>,openai:<model>,codemods"``) or a
table with ``chain`` and the limits, prices and endpoints. The chain comes from the flag,
then ``SELFIMPROVE_LLM``, then the config. API keys are not read here (see
:mod:`bot.core.llm.chain`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from bot.core.errors import UserError
from bot.core.llm.settings import LLMSettings, Price, parse_chain

_INTEGERS = {"max-calls", "max-tokens", "max-reply-tokens", "retries"}
_NUMBERS = {"max-cost", "timeout", "retry-wait", "max-retry-wait"}
_URLS = {
    "openai-base-url": "openai",
    "anthropic-base-url": "anthropic",
    "openai-compatible-base-url": "openai-compatible",
}
MAX_TEMPERATURE = 2.0


def llm_settings(
    flag: str | None, configured: Any, where: str, environ: Mapping[str, str] | None = None
) -> LLMSettings:
    """The run's model settings from the ``--llm`` flag, the env and the config value."""
    env = os.environ if environ is None else environ
    table: dict[str, Any]
    if configured is None:
        table = {}
    elif isinstance(configured, str):
        table = {"chain": configured}
    elif isinstance(configured, dict):
        table = dict(configured)
    else:
        raise UserError(f"'llm' in {where} must be a chain string or a table")
    where = f"{where}.llm"
    values: dict[str, Any] = {}
    chain_text = flag or env.get("SELFIMPROVE_LLM") or None
    base_urls: dict[str, str] = {}
    for key, value in table.items():
        if key == "chain":
            if not isinstance(value, str):
                raise UserError(f"'chain' in {where} must be a string")
            chain_text = chain_text or value
        elif key in _INTEGERS:
            values[key.replace("-", "_")] = _positive(value, key, where, integer=True)
        elif key in _NUMBERS:
            values[key.replace("-", "_")] = _positive(value, key, where, integer=False)
        elif key in _URLS:
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise UserError(f"{key!r} in {where} must be an http(s) URL")
            base_urls[_URLS[key]] = value
        elif key == "temperature":
            values["temperature"] = _temperature(value, where)
        elif key == "retry-timeouts":
            if not isinstance(value, bool):
                raise UserError(f"'retry-timeouts' in {where} must be true or false")
            values["retry_timeouts"] = value
        elif key == "prices":
            values["prices"] = _prices(value, f"{where}.prices")
        else:
            raise UserError(f"unknown key {key!r} in {where}")
    if chain_text is not None:
        values["chain"] = parse_chain(chain_text)
        values["configured"] = True
    return LLMSettings(base_urls=base_urls, **values)


def _positive(value: Any, key: str, where: str, *, integer: bool) -> float | int:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise UserError(f"{key!r} in {where} must be {'a whole number' if integer else 'a number'}")
    if value < 0 or (value == 0 and key != "retries"):
        raise UserError(f"{key!r} in {where} must be positive")
    return value if integer else float(value)


def _temperature(value: Any, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_TEMPERATURE
    ):
        raise UserError(f"'temperature' in {where} must be a number from 0 to {MAX_TEMPERATURE:g}")
    return float(value)


def _prices(table: Any, where: str) -> dict[str, Price]:
    """``{model = {input = <USD per 1M tokens>, output = <USD per 1M tokens>}}``."""
    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table of model = {{ input = ..., output = ... }}")
    prices: dict[str, Price] = {}
    for model, entry in table.items():
        if (
            not isinstance(entry, dict)
            or set(entry) != {"input", "output"}
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                for v in entry.values()
            )
        ):
            raise UserError(
                f"the price of {model!r} in {where} must be {{ input = <USD per million "
                "tokens>, output = <USD per million tokens> }}"
            )
        prices[model] = Price(float(entry["input"]), float(entry["output"]))
    return prices
