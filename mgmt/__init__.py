"""Tollgate management: the Django project where API owners and partners work."""
