"""`python -m extauthz`: run the ext_authz sidecar until SIGTERM or SIGINT."""

import logging
import signal
import threading
from types import FrameType
from typing import Final

from extauthz.server import start_server
from extauthz.settings import Settings
from extauthz.store import Store
from extauthz.xds_client import XdsClient

# Envoy's ext_authz timeout is far shorter; this only lets in-flight Checks finish.
GRACE_SECONDS: Final = 5.0


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    store = Store()
    running = start_server(
        store, address=settings.address, port=settings.port, workers=settings.workers
    )
    client = XdsClient(store, settings.xds_target)
    client.start()

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("extauthz").info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    running.stop(GRACE_SECONDS)
    client.stop()


if __name__ == "__main__":
    main()
