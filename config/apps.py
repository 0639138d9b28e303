"""The project package as an app: its system checks (config.checks) and the admin's rule that a
page without a site scope is for superusers only (config.admin_scope)."""

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "config"
    label = "project"
    verbose_name = "Project-wide checks"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the checks)
        from config.admin_scope import close_unscoped_admins

        # Every app's admin module is imported by now (django.contrib.admin's ready autodiscovers).
        close_unscoped_admins()
