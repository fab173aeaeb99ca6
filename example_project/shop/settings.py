"""Settings of the example shop, from the environment (django-environ).

``DATABASE_URL`` (default: SQLite in this folder), ``DEBUG``,
``ALLOWED_HOSTS``, ``SECRET_KEY`` and the Dengage settings
(``DENGAGE_API_KEY``, ``DENGAGE_DATA_CENTER_URL``, ``DENGAGE_ORIGIN``,
``DENGAGE_STRICT``, ``DENGAGE_ID_SOURCE``), ``PAYMENT_WEBHOOK_SECRET``
(shared with the payment provider, which signs its webhook calls) and
``DENGAGE_MIDDLEWARE`` (the tracking middleware's dotted path:
``bench/server.py`` swaps in one that records nothing to measure the shop
without tracking).
Without ``DENGAGE_API_KEY`` and ``DENGAGE_DATA_CENTER_URL`` it points at a
FakeDengageServer on 127.0.0.1:8765 (``python -m dengage_django.testing``),
so nothing leaves the machine.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("SECRET_KEY", default="example-shop-not-secret")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
USE_TZ = True

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "dengage_django",
    "example_project.store",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    env("DENGAGE_MIDDLEWARE", default="dengage_django.middleware.DengageMiddleware"),
]
ROOT_URLCONF = "example_project.shop.urls"
WSGI_APPLICATION = "example_project.shop.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "example_project.store.context_processors.shop",
            ]
        },
    }
]
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

FAKE_DENGAGE_URL = env("FAKE_DENGAGE_URL", default="http://127.0.0.1:8765")
DENGAGE_API_KEY = env("DENGAGE_API_KEY", default="11111111-2222-3333-4444-555555555555")
DENGAGE_DATA_CENTER_URL = env("DENGAGE_DATA_CENTER_URL", default=FAKE_DENGAGE_URL)
DENGAGE_ORIGIN = env("DENGAGE_ORIGIN", default="https://shop.example.com")
DENGAGE_DEFAULT_CURRENCY = "EUR"
DENGAGE_STRICT = env.bool("DENGAGE_STRICT", default=DEBUG)
# "dengage": new visitor ids come from the (fake) data center's /get/key;
# "local": made up here, no call at all.
DENGAGE_ID_SOURCE = env("DENGAGE_ID_SOURCE", default="dengage")

# Shared with the (pretend) payment provider: it signs each webhook call's
# body with it (HMAC-SHA256, see ``store/payments.py``). Set a real one.
# Product pages ask Dengage for its recommendation widgets while they
# render (request.dengage.decide()); bench/server.py turns this off to
# measure tracking alone.
SHOP_RECOMMENDATIONS = env.bool("SHOP_RECOMMENDATIONS", default=True)
PAYMENT_WEBHOOK_SECRET = env("PAYMENT_WEBHOOK_SECRET", default="example-shop-webhook-secret")
