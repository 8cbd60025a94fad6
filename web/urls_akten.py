"""Staff pages: akten. Included from web/urls.py."""

urlpatterns: list = []
