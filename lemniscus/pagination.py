from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination


class StaffPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise exceptions.ValidationError({"page_size": ["Eine ganze Zahl, bitte."]}) from None
        if size < 1:
            raise exceptions.ValidationError({"page_size": ["Mindestens 1."]})
        return min(size, self.max_page_size)
