"""Settings for the test suite.

The database comes from ``DATABASE_URL`` (django-environ): SQLite by default,
PostgreSQL or MariaDB in their tox environments. SQLite uses a file, not
memory, so worker processes spawned by tests see the same rows.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent
env = environ.Env()

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'test.sqlite3'}"),
}
_test_name = os.environ.get("DENGAGE_TEST_DB_NAME")
if _test_name:
    # A worker process spawned by a test: use the test database the test
    # process created, not the production-name one.
    DATABASES["default"]["NAME"] = _test_name
elif DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A per-process file so parallel tox environments never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3"),
    }

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "dengage_django",
    "tests.accounts",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "dengage_django.middleware.DengageMiddleware",
]

ROOT_URLCONF = "tests.urls"
# Tests create many users: a fast hasher (never in production).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DENGAGE_API_KEY = "11111111-2222-3333-4444-555555555555"
# Tests point this at a FakeDengageServer; worker processes they spawn get it
# (and a short lease, retry delays, timeouts...) from the environment.
DENGAGE_DATA_CENTER_URL = env("DENGAGE_DATA_CENTER_URL", default="http://127.0.0.1:9")
DENGAGE_LEASE_SECONDS = env.float("DENGAGE_LEASE_SECONDS", default=45)
DENGAGE_RETRY_BASE_DELAY = env.float("DENGAGE_RETRY_BASE_DELAY", default=10.0)
DENGAGE_RETRY_MAX_DELAY = env.float("DENGAGE_RETRY_MAX_DELAY", default=3600.0)
DENGAGE_TIMEOUT = env.float("DENGAGE_TIMEOUT", default=10.0)
DENGAGE_CONNECT_TIMEOUT = env.float("DENGAGE_CONNECT_TIMEOUT", default=3.05)
DENGAGE_CONFIGURATION_ERROR_PAUSE = env.float("DENGAGE_CONFIGURATION_ERROR_PAUSE", default=300.0)
DENGAGE_MAX_ATTEMPTS = env.int("DENGAGE_MAX_ATTEMPTS", default=20)
DENGAGE_BATCH_MAX_BYTES = env.int("DENGAGE_BATCH_MAX_BYTES", default=512 * 1024)
DENGAGE_ORIGIN = "https://shop.example.com"
DENGAGE_STRICT = True
DENGAGE_ID_SOURCE = "local"  # tests of /get/key ids set "dengage" themselves
STATIC_URL = "/static/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
}
