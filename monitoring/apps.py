from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from monitoring import receivers  # noqa: F401  (connects the signal receivers)
        from monitoring.safeguards import entry_thresholds
        from registry.safeguards import use_thresholds

        use_thresholds(entry_thresholds)
