"""RE2 validation with the same engine Envoy matches with, so a bad pattern never reaches Envoy."""

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the error is returned to the API owner, not logged by absl


def re2_error(pattern: str) -> str | None:
    """RE2's own message for a pattern it refuses, or None when it compiles."""
    try:
        re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        message = exc.args[0] if exc.args else exc
        return message.decode() if isinstance(message, bytes) else str(message)
    return None


def strip_anchors(pattern: str) -> str:
    """Drops a leading `^` and an unescaped trailing `$`: Envoy matches the whole path anyway."""
    body = pattern.removeprefix("^")
    if body.endswith("$"):
        backslashes = len(body[:-1]) - len(body[:-1].rstrip("\\"))
        if backslashes % 2 == 0:
            body = body[:-1]
    return body
