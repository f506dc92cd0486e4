"""Tollgate management: the Django project where API owners and partners work."""

# Every process that loads Django (admin, runserver, shell) sends tasks through this app,
# not Celery's unconfigured default one.
from mgmt.celery_app import app as celery_app

__all__ = ["celery_app"]
