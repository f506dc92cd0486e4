"""Routes of the developer API (filled in with the views)."""

urlpatterns: list[object] = []
