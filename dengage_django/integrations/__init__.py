"""Other tools a shop runs next to dengage-django.

* :mod:`.sentry`: keeps the API key out of what sentry-sdk sends (the
  ``before_send``, ``before_send_transaction`` and ``before_breadcrumb``
  callbacks, and :func:`~.sentry.install`, which needs none of them).

Nothing here imports the tool it integrates at import time: each module is
importable, and inert, without it.
"""
