"""django-oscar: add ``"dengage_django.contrib.oscar"`` to ``INSTALLED_APPS``
after Oscar's apps (see :mod:`.apps`)."""
