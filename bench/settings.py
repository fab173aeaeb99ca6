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
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "dengage_django"]
DENGAGE_API_KEY = "bench-key"
DENGAGE_ORIGIN = "https://shop.example.com"
DENGAGE_DATA_CENTER_URL = env("DENGAGE_DATA_CENTER_URL", default="http://127.0.0.1:9")
