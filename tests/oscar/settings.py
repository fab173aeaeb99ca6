"""The example Oscar shop (example_project/oscar) as the Oscar tests run
it (``pytest tests/oscar --ds tests.oscar.settings``, tox environment
``oscar``): an in-memory SQLite database unless ``DATABASE_URL`` names
another, local visitor ids, a fast password hasher."""

import environ

from example_project.oscar.settings import *  # noqa: F403 - the shop's settings

DEBUG = False
DATABASES = {"default": environ.Env().db("DATABASE_URL", default="sqlite:///:memory:")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The fake data center's URL and key come from the fake_server fixture.
DENGAGE_API_KEY = "11111111-2222-3333-4444-555555555555"
DENGAGE_DATA_CENTER_URL = "http://127.0.0.1:9"
DENGAGE_ORIGIN = "https://shop.example.com"
DENGAGE_ID_SOURCE = "local"
