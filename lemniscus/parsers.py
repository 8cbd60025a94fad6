from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class JSONObjectParser(JSONParser):
    """JSON whose top level must be an object (400 `malformed_request` otherwise)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise exceptions.ParseError("JSON body must be an object.")
        return data
