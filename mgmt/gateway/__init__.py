"""The gateway app: the catalog, access, and snapshot models API owners edit in admin."""
