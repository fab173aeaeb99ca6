import sys

from django.apps import AppConfig


class DengageConfig(AppConfig):
    name = "dengage_django"
    verbose_name = "Dengage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks
        from .delivery.redaction import install_log_redaction
        from .recording import receivers

        checks.register_checks()
        receivers.connect()
        install_log_redaction()
        if "sentry_sdk" in sys.modules:  # the shop uses Sentry (set up in its settings)
            from .integrations.sentry import install as install_sentry_scrubbing

            install_sentry_scrubbing()
        from .conf import dengage_settings

        if dengage_settings.TASK_ON_RECORD:
            from . import tasks  # needs django.tasks (Django 6) or django-tasks

            tasks.connect()
