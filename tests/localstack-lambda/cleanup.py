"""Cleanup shared by run.py and sam_deploy.py: what they created is removed one item at
a time, and an item that cannot be removed (already gone, LocalStack restarted) does not
stop the others."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")


def best_effort(remove: Callable[[T], object], items: Iterable[T]) -> None:
    """Calls `remove(item)` for each item, ignoring any failure."""
    for item in items:
        with contextlib.suppress(Exception):
            remove(item)
