"""Settings for the benchmarks: SQLite file in a temp dir, or DATABASE_URL."""

import os
import tempfile

import environ

env = environ.Env()
SECRET_KEY = "bench-only"
USE_TZ = True
DEBUG = False
_path = os.path.join(tempfile.gettempdir(), f"dengage-bench-{os.getpid()}.sqlite3")
_default = "sqlite:///" + _path
DATABASES = {"default": env.db("DATABASE_URL", default=_default)}
# Persistent connections, as a production shop runs (the default, 0, opens
# a connection per request, which would dominate every figure).
DATABASES["default"]["CONN_MAX_AGE"] = 60
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "dengage_django",
]
ROOT_URLCONF = "bench.shop"
ALLOWED_HOSTS = ["*"]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
BASE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
MIDDLEWARE = BASE_MIDDLEWARE
DENGAGE_ID_SOURCE = "local"
DENGAGE_API_KEY = "bench-key"
DENGAGE_ORIGIN = "https://shop.example.com"
DENGAGE_DATA_CENTER_URL = env("DENGAGE_DATA_CENTER_URL", default="http://127.0.0.1:9")
# The drain, scale and workers benchmarks run the sender without the
# middleware; its reminder would only clutter their output.
SILENCED_SYSTEM_CHECKS = ["dengage_django.W004"]
