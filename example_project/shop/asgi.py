"""ASGI entry point of the example shop."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.shop.settings")

application = get_asgi_application()
