"""A serializer built once per thread, for the one request the Zipper API answers
most (the appointment push): its payload validated and its answer rendered by the
serializers the schema documents, without building them on every request.

DRF deep-copies a serializer's declared fields whenever one is instantiated (each
`Serializer.fields`, nested serializers included): 29 fields for a push's payload
and answer, about 0.7 ms of a push's 4 ms in-process. Validating (`run_validation`)
and rendering (`to_representation`) keep no state on the serializer; what a call
brings is its data or instance and its context, both passed per call here. So the
instance can be kept per thread (never shared between threads) and reused. Only for
serializers that read nothing but their context and their argument: no
`initial_data`, no `instance`, no `partial` (tests/zipper/test_hot_path.py compares
the results with a new serializer's)."""

import threading

from rest_framework.exceptions import ValidationError
from rest_framework.serializers import Serializer
from rest_framework.utils.serializer_helpers import ReturnDict

_local = threading.local()


def _kept(serializer_class: type[Serializer]) -> Serializer:
    kept = _local.__dict__.setdefault("serializers", {})
    serializer = kept.get(serializer_class)
    if serializer is None:
        serializer = kept[serializer_class] = serializer_class()
    return serializer


def validated(serializer_class: type[Serializer], data, **context):
    """`serializer_class(data=data, context=context)`'s validated data; its
    ValidationError (the same errors `is_valid(raise_exception=True)` raises)."""
    serializer = _kept(serializer_class)
    serializer._context = context
    try:
        return serializer.run_validation(data)
    except ValidationError:
        # The rare path, answered exactly as a new serializer's is_valid answers it.
        serializer_class(data=data, context=context).is_valid(raise_exception=True)
        raise
    finally:
        serializer._context = {}


def represented(serializer_class: type[Serializer], instance, **context) -> ReturnDict:
    """`serializer_class(instance, context=context).data`."""
    serializer = _kept(serializer_class)
    serializer._context = context
    try:
        return ReturnDict(serializer.to_representation(instance), serializer=serializer)
    finally:
        serializer._context = {}
