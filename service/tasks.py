"""Celery tasks of the service app: thin adapters over services."""
