"""Redacts Tollgate's secrets from the records of Django's request loggers (`django.server`
writes every request line, `django.request` the path of every 4xx and 5xx), in case a
client puts a key or a token in a URL. Defence in depth: no flow of ours puts one there."""

import logging
import re
from typing import Final

from django.conf import settings

from extauthz import keys
from mgmt.developers import tokens

REDACTED: Final = "[redacted]"

# Keys (tg_<id>_<secret>) and personal access tokens (tgp_<id>_<secret>): the id stays
# readable, as the portal shows it; the secret goes. Loose on lengths: a truncated or
# mistyped secret is still someone's secret.
_PREFIXED = re.compile(
    rf"(?<![A-Za-z0-9])((?:{re.escape(keys.PREFIX)}|{re.escape(tokens.TOKEN_PREFIX)})"
    r"[A-Za-z0-9]{4,32}_)[A-Za-z0-9_\-]{8,}"
)
# Links mailed before secrets moved to the fragment: /portal/verify/<token>,
# /portal/invitations/<token>, /portal/password-reset/<uid>/<token>.
_OLD_LINK = re.compile(
    r"(/portal/(?:verify|invitations|password-reset)/)"
    r"(?!(?:accept|confirm)(?:[\s\"'?#]|$))[^\s\"'?#]+"
)
# Query parameters that name a credential, whatever the path.
_SECRET_PARAMETER = re.compile(
    r"([?&;](?:[a-z_\-]*(?:token|key|secret|password|code|invitation|signature|auth)"
    r"[a-z_\-]*)=)[^&;#\s\"']+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    text = _PREFIXED.sub(rf"\g<1>{REDACTED}", text)
    text = _OLD_LINK.sub(rf"\g<1>{REDACTED}", text)
    text = _SECRET_PARAMETER.sub(rf"\g<1>{REDACTED}", text)
    internal = settings.TOLLGATE_INTERNAL_TOKEN
    return text.replace(internal, REDACTED) if internal in text else text


class RedactSecrets(logging.Filter):
    """On a logger, it rewrites the record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed record: logging reports it as it would anyway
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
