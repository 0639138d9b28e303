"""Make an API token for a user, for a lab interface or a script; prints the secret, once."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.models import ApiToken
from api.tokens import tokens_revoke_all


def positive_days(value: str) -> int:
    days = int(value)
    if days < 1:
        raise ValueError(value)
    return days


class Command(BaseCommand):
    help = (
        "Make an API token of USERNAME and print it (only its fingerprint is kept: it cannot be "
        "shown again). --rotate revokes the user's other tokens first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Made with manage.py", help="what it is for")
        default_days = int(settings.API_TOKEN_TTL / dt.timedelta(days=1))
        parser.add_argument(
            "--expires-in",
            type=positive_days,
            default=default_days,
            metavar="DAYS",
            help=f"days until it expires (default: API_TOKEN_TTL, {default_days})",
        )
        parser.add_argument("--rotate", action="store_true", help="revoke the user's other tokens")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if options["rotate"]:
            tokens_revoke_all(user=user, reason="rotated with manage.py create_api_token")
        _token, secret = ApiToken.objects.issue(
            user=user, name=options["name"], ttl=dt.timedelta(days=options["expires_in"])
        )
        self.stdout.write(secret)
