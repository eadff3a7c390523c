"""Point the app at Celery's in-memory transport before it is imported, so the tests run
a real worker and a real round trip without a broker."""

import os

os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("CELERY_RESULT_BACKEND", "cache+memory://")
os.environ.setdefault("LONGTIME_ADD_SECONDS", "0.3")
