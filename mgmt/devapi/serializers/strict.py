"""The base of every input serializer: an unknown or read-only field is an error, not
something silently dropped; a value of the wrong JSON type is an error, not coerced; and
text the database cannot store is refused up front."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


def _storable_text_errors(value: Any, path: str, found: dict[str, list[str]]) -> None:
    """NUL characters and lone surrogates pass JSON but not PostgreSQL: refuse them here."""
    if isinstance(value, str):
        if "\x00" in value:
            found.setdefault(path or "body", []).append("text may not contain NUL characters")
            return
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            found.setdefault(path or "body", []).append("text must be valid Unicode")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _storable_text_errors(key, path or "body", found)
            _storable_text_errors(item, f"{path}.{key}" if path else str(key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _storable_text_errors(item, f"{path}.{index}" if path else str(index), found)


def _wrong_json_type(field: serializers.Field[Any, Any, Any, Any], value: Any) -> str | None:
    """DRF would turn 5 into "5" and "5" into 5; a typed API says the type is wrong."""
    if value is None:
        return None  # allow_null decides
    if isinstance(field, serializers.CharField | serializers.ChoiceField):
        return None if isinstance(value, str) else "must be a string"
    if isinstance(field, serializers.IntegerField):
        whole = isinstance(value, int) and not isinstance(value, bool)
        return None if whole else "must be a whole number"
    return None


class StrictSerializer(serializers.Serializer[Any]):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            found: dict[str, list[str]] = {}
            for name, value in data.items():
                field = self.fields.get(name)
                if field is None:
                    found[str(name)] = ["unknown field"]
                elif field.read_only:
                    found[str(name)] = ["this field is read-only"]
                elif (wrong := _wrong_json_type(field, value)) is not None:
                    found[str(name)] = [wrong]
            _storable_text_errors(dict(data), "", found)
            if found:
                raise serializers.ValidationError(found)
        return super().to_internal_value(data)
