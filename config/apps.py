"""The project package as an app, only to register its system checks (config.checks)."""

from django.apps import AppConfig


class DeploymentChecksConfig(AppConfig):
    name = "config"
    label = "deployment"
    verbose_name = "Deployment checks"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the checks)
