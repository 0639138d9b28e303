"""Command-line dates for the monitoring commands."""

import datetime as dt
from collections.abc import Callable

from django.core.management.base import CommandError


def iso_date(option: str) -> Callable[[str], dt.date]:
    """An argparse type: ISO dates, with a clear error naming the option."""

    def parse(value: str) -> dt.date:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None

    return parse
