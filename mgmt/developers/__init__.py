"""The developer portal's domain: sign-up, organizations and roles, applications, keys,
subscriptions and limit requests. The DRF API (mgmt.devapi) and the portal pages
(mgmt.portal) are thin shells around services.py and selectors.py here."""
