"""A mail backend for the worker tests: each message becomes one line of a JSON outbox file,
so the test process sees exactly what a worker sent. It can hang on the Nth message (with a
marker file saying so), which is where the test kills the worker."""

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage


def outbox(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        path = Path(os.environ["TOLLGATE_TEST_OUTBOX"])
        hang_at = int(os.environ.get("TOLLGATE_TEST_HANG_AT_MESSAGE", "0"))
        for message in email_messages:
            if hang_at and len(outbox(path)) + 1 == hang_at:
                path.with_suffix(".hanging").write_text(str(message.extra_headers["Message-ID"]))
                time.sleep(3600)  # the test kills this worker here
            line = {
                "message_id": str(message.extra_headers["Message-ID"]),
                "to": ",".join(message.to),
                "subject": str(message.subject),
            }
            with path.open("a") as f:
                f.write(json.dumps(line) + "\n")
                f.flush()
                os.fsync(f.fileno())
        return len(email_messages)
