"""The developer API under /api/v1/: DRF views that are thin shells around mgmt.developers."""
