"""How long a failed notice waits before its next attempt: doubling, capped."""

from typing import Final

FIRST_DELAY_SECONDS: Final = 30
MAX_DELAY_SECONDS: Final = 3600


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failed attempt (1-based): 30, 60, 120 ... 3600."""
    exponent = min(max(attempts, 1) - 1, 16)
    delay: int = FIRST_DELAY_SECONDS << exponent
    return min(delay, MAX_DELAY_SECONDS)
