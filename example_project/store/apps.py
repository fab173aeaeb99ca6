from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "example_project.store"
    label = "store"
    verbose_name = "Store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        import dengage_django

        from .models import Order
        from .tracking import order_events

        dengage_django.register_model(Order, order_events, track_fields=["status"])
