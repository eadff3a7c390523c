"""The classic first Celery project: a task that adds two numbers slowly."""
