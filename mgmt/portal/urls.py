"""Routes of the portal pages."""

urlpatterns: list[object] = []
