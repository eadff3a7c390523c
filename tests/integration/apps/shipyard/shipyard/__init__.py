"""Packing and billing jobs, run by Celery."""
