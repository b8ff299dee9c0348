"""The local FCM endpoint as several processes on one port: every request answered, each recorded once."""

from __future__ import annotations

import http.client
import json
from collections import Counter

from connectors.fcm_local.cluster import LocalFcmCluster
from connectors.fcm_local.tls import client_context


def post(body: dict, conn: http.client.HTTPConnection) -> tuple[int, dict]:
    conn.request(
        "POST",
        "/v1/projects/p/messages:send",
        json.dumps(body),
        {"Authorization": "Bearer t", "Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def test_processes_share_the_port_and_record_what_they_accepted(tmp_path) -> None:
    cluster = LocalFcmCluster(2, record_dir=tmp_path).start()
    try:
        # Separate connections, so the kernel can hand them to either process.
        # HTTPS (HTTP/1.1 by ALPN here), trusting the cluster's CA.
        context = client_context(cluster.ca_file)
        conns = [http.client.HTTPSConnection("127.0.0.1", cluster.port, timeout=10, context=context) for _ in range(6)]
        for i in range(30):
            status, answer = post({"message": {"token": f"t{i}", "data": {"nudge_job_id": f"j{i}"}}}, conns[i % 6])
            assert status == 200 and answer["name"].startswith("projects/p/messages/")
        status, answer = post({"message": {"token": "t", "data": {"n": 1}}}, conns[0])
        assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"  # validation still applies
        for conn in conns:
            conn.close()
    finally:
        records = cluster.close()
    assert len(records) == 2
    pairs = Counter(tuple(p) for rec in records for p in rec["accepted"])
    assert pairs == Counter({(f"j{i}", f"t{i}"): 1 for i in range(30)})
    assert sum(rec["stats"]["rejected"].get("INVALID_ARGUMENT", 0) for rec in records) == 1
