"""Integrations with other Django apps, each installed on its own."""
