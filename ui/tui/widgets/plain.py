"""Text that is shown as it is: never parsed as markup.

Anything that may carry data from outside (customer names, item descriptions,
OMS messages, what someone typed) goes through ``Plain``: in a plain ``Static``
a name like ``Ann [/x]`` is a markup error that ends the app, and
``[@click=app.quit]`` would be a live link.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from sync.text import strip_controls


class Plain(Static):
    """A ``Static`` whose content, given or updated, is never markup."""

    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        super().__init__(content, markup=False, **kwargs)


def plain(value: object) -> Text:
    """A table cell or label from any value: literal text, no control characters."""
    return Text(strip_controls(str(value)))
