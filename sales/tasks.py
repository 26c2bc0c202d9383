"""Celery tasks of the sales app: thin adapters over services."""
