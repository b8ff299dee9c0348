"""Rendered copy a person should never see: placeholders, empty values, "0 items", prices without a currency."""

from __future__ import annotations

import re

# Text that only a missing value or a template slip produces.
_LEFTOVERS = re.compile(r"\b(None|null|nan|NaN|undefined)\b|\{\{|\}\}|\{%|%\}|\[\]|\{\}|\(\)")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s[.,](?!\d)")
_ZERO_ITEMS = re.compile(r"(?<![\d.,])0\s+(items?|Artikel|articles?|produits?|itens|Produkte?)\b", re.IGNORECASE)
_DANGLING = re.compile(r"^[\s,;:.!?-]|,\s*[,.!?]|\s,")
# A decimal amount (12.50, 1.234,50, 12,5) and the currency marks that may stand beside it.
_AMOUNT = re.compile(r"\d[\d.,\u00a0\u202f]*[.,]\d{1,2}(?!\d)")
_CURRENCY = re.compile(r"[€$£¥₹₩₽¢]|(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])|R\$|kr|zł")  # "EUR192.82" (en-AU) too


def copy_problems(text: str) -> list[str]:
    """What is wrong with one rendered title or body, as short reasons (empty when it reads fine)."""
    problems = []
    if not text.strip():
        return ["empty"]
    if found := _LEFTOVERS.search(text):
        problems.append(f"placeholder or empty value {found.group(0)!r}")
    if "  " in text:
        problems.append("double space")
    if _SPACE_BEFORE_PUNCTUATION.search(text):
        problems.append("space before punctuation")
    if found := _ZERO_ITEMS.search(text):
        problems.append(f"{found.group(0)!r}")
    if _DANGLING.search(text):
        problems.append("dangling punctuation (a value left out?)")
    for amount in _AMOUNT.finditer(text):
        near = text[max(0, amount.start() - 4) : amount.end() + 5]
        if not _CURRENCY.search(near):
            problems.append(f"amount {amount.group(0)!r} without a currency")
    return problems
