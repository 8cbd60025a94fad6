"""Staff pages: abrechnung. Included from web/urls.py."""

urlpatterns: list = []
