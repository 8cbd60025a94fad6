"""Staff pages: kalender. Included from web/urls.py."""

urlpatterns: list = []
