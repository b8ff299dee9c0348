"""The endpoint's core as an RSGI app, for the load cluster on granian (cluster.py): TLS and HTTP/2 in Rust."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from connectors.fcm_local.core import FcmCore, Reply

RECORD_DIR_ENV = "NUDGE_FCM_RECORD_DIR"


def record_path(record_dir: Path, pid: int) -> Path:
    return record_dir / f"accepted-{pid}.json"


class FcmApp:
    """One FcmCore per granian worker process; at shutdown each writes what it accepted (the bench checks it)."""

    def __init__(self) -> None:
        self.core = FcmCore()

    def __rsgi_init__(self, loop: Any) -> None:
        self.core = FcmCore()  # fresh per worker process: message ids carry its pid

    def __rsgi_del__(self, loop: Any) -> None:
        record_dir = os.environ.get(RECORD_DIR_ENV)
        if not record_dir:
            return
        accepted = self.core.state.accepted
        pairs = [[m["message"].get("data", {}).get("nudge_job_id"), m["message"].get("token")] for m in accepted]
        target = record_path(Path(record_dir), os.getpid())
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stats": self.core.stats(), "accepted": pairs}))
        tmp.replace(target)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        body = await protocol()
        reply = self.core.handle(scope.method, scope.path, scope.headers, body)
        if not isinstance(reply, Reply):
            reply = await reply
        protocol.response_bytes(reply.status or 500, list(reply.headers), reply.body)


app = FcmApp()
