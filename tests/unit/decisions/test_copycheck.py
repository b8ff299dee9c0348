"""Copy checks: what `nudge validate` refuses in a rendered title or body."""

from __future__ import annotations

import pytest

from streams.decisions.copycheck import copy_problems


@pytest.mark.parametrize(
    "text",
    ["Jonas, 2 Artikel für 218,90\u00a0€ warten.", "Now €119.02, was €148.78.", "10 orders! 🎉", "Welcome 👋",
     "Votre panier vous attend : 1\u202f129,00\u00a0€ !", "Pay 12.00 USD today."],
)  # fmt: skip
def test_good_copy_has_no_problem(text: str) -> None:
    assert copy_problems(text) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("Hi None, welcome", "placeholder or empty value 'None'"),
        ("Price {{ price }}", "placeholder or empty value '{{'"),
        ("0 items are waiting.", "'0 items'"),
        ("Dein Warenkorb: 0 Artikel", "'0 Artikel'"),
        ("Now 142.22 .", "space before punctuation"),
        (", you left something behind", "dangling punctuation (a value left out?)"),
        ("Now 142.22 for you", "amount '142.22' without a currency"),
        ("Hello  there", "double space"),
    ],
)
def test_bad_copy_is_named(text: str, problem: str) -> None:
    assert problem in copy_problems(text)
