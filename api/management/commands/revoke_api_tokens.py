"""Revoke every API token of a user (a lost laptop, a leaked script)."""

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.tokens import tokens_revoke_all


class Command(BaseCommand):
    help = "Revoke every API token of USERNAME."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        revoked = tokens_revoke_all(user=user, reason="with manage.py revoke_api_tokens")
        self.stdout.write(f"{revoked} token(s) of {user.username} revoked.")
