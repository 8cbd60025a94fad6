"""Middleware that only the staff side needs, skipped on the machine-to-machine
Zipper API: sessions, the logged-in user, the session's idle end (a session read and
write on every request), messages, the history's request user and the login
throttles. A Zipper call carries a bearer
token and never a cookie, so none of them has anything to do there, yet each costs
every call its time (issue 15: the hot path).

`StaffOnlyMiddleware` stands in MIDDLEWARE where these would and runs them, in the
order of `STAFF_MIDDLEWARE`, for every request outside `MACHINE_PATH_PREFIXES`; their
`process_view`, `process_exception` and `process_template_response` hooks are called
as Django would call them in that place of the list."""

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.utils.module_loading import import_string

MACHINE_PATH_PREFIXES = ("/api/zipper/",)


class StaffOnlyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        handler = get_response
        instances = []
        for path in reversed(settings.STAFF_MIDDLEWARE):
            instance = import_string(path)(handler)
            instances.insert(0, instance)
            handler = convert_exception_to_response(instance)
        self.staff_chain = handler
        self._view_hooks = [m.process_view for m in instances if hasattr(m, "process_view")]
        self._template_hooks = [
            m.process_template_response
            for m in reversed(instances)
            if hasattr(m, "process_template_response")
        ]
        self._exception_hooks = [
            m.process_exception for m in reversed(instances) if hasattr(m, "process_exception")
        ]

    @staticmethod
    def is_machine(request) -> bool:
        return request.path_info.startswith(MACHINE_PATH_PREFIXES)

    def __call__(self, request):
        if self.is_machine(request):
            return self.get_response(request)
        return self.staff_chain(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if self.is_machine(request):
            return None
        for hook in self._view_hooks:
            response = hook(request, view_func, view_args, view_kwargs)
            if response is not None:
                return response
        return None

    def process_template_response(self, request, response):
        if not self.is_machine(request):
            for hook in self._template_hooks:
                response = hook(request, response)
        return response

    def process_exception(self, request, exception):
        if self.is_machine(request):
            return None
        for hook in self._exception_hooks:
            response = hook(request, exception)
            if response is not None:
                return response
        return None
