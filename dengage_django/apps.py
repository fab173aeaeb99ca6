from django.apps import AppConfig


class DengageConfig(AppConfig):
    name = "dengage_django"
    verbose_name = "Dengage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import receivers

        receivers.connect()
