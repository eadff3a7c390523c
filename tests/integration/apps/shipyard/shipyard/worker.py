"""The Celery instance: everything it knows comes from shipyard.celeryconfig."""

from celery import Celery

celery_app = Celery("shipyard")
celery_app.config_from_object("shipyard.celeryconfig")
