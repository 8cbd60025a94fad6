from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from lemniscus.errors import ValidationFailed
from lemniscus.text import unencodable_paths


class JSONObjectParser(JSONParser):
    """JSON whose top level must be an object (400 `malformed_request` otherwise) and
    whose text has a UTF-8 form (a lone surrogate: 422 `validation_error` naming where)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise exceptions.ParseError("JSON body must be an object.")
        if paths := unencodable_paths(data):
            raise ValidationFailed(
                "Der Inhalt enthält ein Zeichen, das kein gültiger Text ist (ein einzelnes "
                "UTF-16-Surrogat wie \\ud800).",
                errors={path: ["Ungültiges Zeichen (einzelnes Surrogat)."] for path in paths},
            )
        return data
