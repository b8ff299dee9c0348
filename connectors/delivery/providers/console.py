"""A provider that prints each push: for demos."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from connectors.delivery.providers.base import Send, SendResult, payload_data
from connectors.stores.keys import token_hash


class ConsoleProvider:
    """Write one JSON line per push; never fails."""

    name = "console"
    max_batch = 500

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._count = 0

    async def start(self) -> None:
        pass

    async def send_batch(self, sends: list[Send]) -> list[SendResult]:
        outcomes = []
        for send in sends:
            self._count += 1
            line = {"to": token_hash(send.token), "platform": send.platform, "title": send.job.title}
            line |= {"body": send.job.body, "data": payload_data(send.job)}
            self._stream.write(json.dumps(line) + "\n")
            outcomes.append(SendResult(True, f"console/{self._count}"))
        self._stream.flush()
        return outcomes

    async def close(self) -> None:
        pass
