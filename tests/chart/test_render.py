"""The rendered chart: stream workers, delivery, collector, the topics hook and the secret handling."""

from __future__ import annotations

import pytest
import yaml

from tests.chart.conftest import ALL_FEATURES, container, env, find, one

OPTIONAL = [
    ("HorizontalPodAutoscaler", "delivery"),
    ("ScaledObject", "delivery"),
    ("Ingress", "collector"),
    ("ServiceMonitor", "streams"),
    ("ServiceMonitor", "delivery"),
    ("ServiceMonitor", "collector"),
    ("NetworkPolicy", "streams"),
    ("NetworkPolicy", "delivery"),
    ("NetworkPolicy", "collector"),
]


def test_stream_workers_are_a_statefulset_with_a_pvc_per_pod(default):
    sts = one(default, "StatefulSet", "streams")
    claims = sts["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["data"]
    assert claims[0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    mounts = {m["name"]: m["mountPath"] for m in container(sts)["volumeMounts"]}
    assert mounts["data"] == env(sts)["NUDGE_DATA_DIR"]["value"] == "/var/lib/nudge"
    assert env(sts)["NUDGE_STORE"]["value"] == "rocksdb://"
    assert sts["spec"]["serviceName"] == one(default, "Service", "streams")["metadata"]["name"]


def test_static_membership_comes_from_the_pod_name(default):
    var = env(one(default, "StatefulSet", "streams"))["NUDGE_GROUP_INSTANCE_ID"]
    assert var["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_static_membership_can_be_turned_off(render):
    sts = one(render("--set", "streams.staticMembership=false"), "StatefulSet", "streams")
    assert "NUDGE_GROUP_INSTANCE_ID" not in env(sts)


def test_exactly_once_gives_each_pod_its_own_stable_transactional_id(default, render):
    assert env(one(default, "StatefulSet", "streams"))["NUDGE_PROCESSING_GUARANTEE"]["value"] == "at_least_once"
    assert "NUDGE_TRANSACTIONAL_ID" not in env(one(default, "StatefulSet", "streams"))
    sts = one(render("--set", "streams.processingGuarantee=exactly_once", "--set", "streams.commitIntervalMs=200"),
              "StatefulSet", "streams")  # fmt: skip
    assert env(sts)["NUDGE_PROCESSING_GUARANTEE"]["value"] == "exactly_once"
    assert env(sts)["NUDGE_COMMIT_INTERVAL_MS"]["value"] == "200"
    assert env(sts)["NUDGE_TRANSACTIONAL_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_stream_worker_probes_readiness_is_recovery(default):
    c = container(one(default, "StatefulSet", "streams"))
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "web"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "web"}
    assert c["startupProbe"]["httpGet"]["path"] == "/health"
    assert c["ports"] == [{"name": "web", "containerPort": 6066, "protocol": "TCP"}]
    assert env(one(default, "StatefulSet", "streams"))["NUDGE_WEB_PORT"]["value"] == "6066"


def test_stream_worker_raises_nofile_then_execs_the_worker(default):
    c = container(one(default, "StatefulSet", "streams"))
    assert c["command"] == ["/bin/sh", "-c"]
    script = c["args"][0]
    assert "ulimit -n 65536" in script
    assert script.strip().splitlines()[-1] == "exec nudge worker -l info"
    assert c["resources"]["limits"]["memory"] == "2Gi"


def test_every_component_has_a_pdb(full):
    for component in ("streams", "delivery", "collector"):
        pdb = one(full, "PodDisruptionBudget", component)
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == component


def test_processes_and_ports(full):
    delivery = one(full, "Deployment", "delivery")
    assert container(delivery)["args"] == ["deliver"]
    assert env(delivery)["NUDGE_DELIVERY_METRICS_PORT"]["value"] == "9101"
    assert container(delivery)["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container(delivery)["livenessProbe"]["httpGet"]["path"] == "/health"
    collector = one(full, "Deployment", "collector")
    assert container(collector)["args"] == ["collect"]
    assert env(collector)["NUDGE_COLLECTOR_PORT"]["value"] == "8080"
    assert one(full, "Service", "collector")["spec"]["ports"][0]["targetPort"] == "http"


def test_servers_bind_the_pod_address_not_loopback(full):
    # The processes default to 127.0.0.1 for local dev; probes and scrapes come from outside the pod.
    assert env(one(full, "StatefulSet", "streams"))["NUDGE_WEB_BIND"]["value"] == "0.0.0.0"
    assert env(one(full, "Deployment", "delivery"))["NUDGE_DELIVERY_METRICS_HOST"]["value"] == "0.0.0.0"
    assert env(one(full, "Deployment", "collector"))["NUDGE_COLLECTOR_HOST"]["value"] == "0.0.0.0"


def test_collector_is_off_by_default_and_needs_its_api_keys(default, render_fails):
    assert find(default, "Deployment", "collector") == []
    err = render_fails("--set", "collector.enabled=true")
    assert "collector.auth.existingSecret is required" in err


def test_pods_run_as_non_root_with_a_read_only_root(full):
    for kind, component in (("StatefulSet", "streams"), ("Deployment", "delivery"), ("Deployment", "collector")):
        pod = one(full, kind, component)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        assert container({"spec": {"template": {"spec": pod}}})["securityContext"]["readOnlyRootFilesystem"] is True


def test_topics_job_is_a_pre_install_and_pre_upgrade_hook(default):
    job = one(default, "Job", "topics")
    notes = job["metadata"]["annotations"]
    assert notes["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in notes["helm.sh/hook-delete-policy"]
    assert container(job)["args"] == ["topics", "apply"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # The chart's ServiceAccount does not exist yet when a pre-install hook runs.
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "default"


@pytest.mark.parametrize(("kind", "component"), OPTIONAL)
def test_optional_features_are_off_by_default(default, kind, component):
    assert find(default, kind, component) == []


@pytest.mark.parametrize(("kind", "component"), OPTIONAL)
def test_optional_features_render_with_all_features(render, full, kind, component):
    docs = (
        full
        if kind != "HorizontalPodAutoscaler"
        else render(
            "-f",
            str(ALL_FEATURES),
            "--set",
            "delivery.autoscaling.keda.enabled=false",
            "--set",
            "delivery.autoscaling.hpa.enabled=true",
        )
    )
    one(docs, kind, component)


def test_keda_scales_on_the_delivery_group_lag_and_scales_down_slowly(full):
    scaled = one(full, "ScaledObject", "delivery")
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == "nudge-delivery"
    # KEDA must watch the group the workers actually join.
    assert env(one(full, "Deployment", "delivery"))["NUDGE_DELIVERY_GROUP_ID"]["value"] == "nudge-delivery"
    assert trigger["metadata"]["topic"] == "prod.notifications.jobs"
    down = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] >= 300
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]
    # The autoscaler owns the replica count.
    assert "replicas" not in one(full, "Deployment", "delivery")["spec"]


def test_hpa_and_keda_together_are_refused(render_fails):
    err = render_fails(
        "--set", "delivery.autoscaling.hpa.enabled=true", "--set", "delivery.autoscaling.keda.enabled=true"
    )
    assert "not both" in err


def test_secrets_are_referenced_from_existing_secrets(full):
    sts = env(one(full, "StatefulSet", "streams"))
    assert sts["NUDGE_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "nudge-kafka",
        "key": "kafka-sasl-password",
    }
    assert sts["NUDGE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "nudge-redis", "key": "redis-url"}
    assert sts["NUDGE_KAFKA_SSL_CAFILE"]["value"] == "/etc/nudge/kafka-ca/ca.crt"
    collector = env(one(full, "Deployment", "collector"))
    assert collector["NUDGE_COLLECTOR_API_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "nudge-collector"
    assert "NUDGE_REDIS_URL" not in collector

    delivery = one(full, "Deployment", "delivery")
    volumes = {v["name"]: v for v in delivery["spec"]["template"]["spec"]["volumes"]}
    assert volumes["fcm-credentials"]["secret"]["secretName"] == "nudge-fcm"
    assert volumes["kafka-ca"]["secret"]["secretName"] == "nudge-kafka-ca"
    mounts = {m["name"]: m["mountPath"] for m in container(delivery)["volumeMounts"]}
    creds = env(delivery)["GOOGLE_APPLICATION_CREDENTIALS"]["value"]
    assert creds == f"{mounts['fcm-credentials']}/service-account.json"


@pytest.mark.parametrize("values", ["default", "full"])
def test_no_secret_values_rendered(request, values):
    docs = request.getfixturevalue(values)
    assert find(docs, "Secret") == []
    for doc in docs:
        for c in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for var in c.get("env", []):
                if any(word in var["name"] for word in ("PASSWORD", "API_KEYS", "CREDENTIALS_JSON")):
                    assert "value" not in var, var
                if var["name"] == "NUDGE_REDIS_URL" and "value" in var:
                    assert "@" not in var["value"]


def test_redis_url_with_credentials_is_refused(render_fails):
    err = render_fails("--set", "redis.url=redis://:hunter2@redis:6379/0")
    assert "existingSecret" in err


def test_triggers_configmap_is_mounted_and_rolls_the_workers(full, render):
    cm = one(full, "ConfigMap", "streams")
    assert set(cm["data"]) == {"triggers.yaml", "decisions.yaml", "README.txt"}
    assert yaml.safe_load(cm["data"]["triggers.yaml"])["triggers"][0]["id"] == "cart_abandoned"
    assert yaml.safe_load(cm["data"]["decisions.yaml"])["policies"]["max_per_week"] == 5
    sts = one(full, "StatefulSet", "streams")
    assert env(sts)["NUDGE_TRIGGERS_FILE"]["value"] == "/etc/nudge/triggers/triggers.yaml"
    assert env(sts)["NUDGE_DECISIONS_FILE"]["value"] == "/etc/nudge/triggers/decisions.yaml"
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["triggers"]["configMap"]["name"] == cm["metadata"]["name"]
    assert "checksum/triggers" in sts["spec"]["template"]["metadata"]["annotations"]

    existing = render("--set", "triggers.existingConfigMap=my-triggers")
    assert find(existing, "ConfigMap") == []
    assert {"NUDGE_TRIGGERS_FILE", "NUDGE_DECISIONS_FILE"} <= set(env(one(existing, "StatefulSet", "streams")))
    volumes = {v["name"]: v for v in one(existing, "StatefulSet", "streams")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["triggers"]["configMap"]["name"] == "my-triggers"


def test_network_policy_limits_collector_ingress_to_selected_namespaces(full):
    policy = one(full, "NetworkPolicy", "collector")
    rule = policy["spec"]["ingress"][0]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}
    assert {"port": 53, "protocol": "UDP"} in policy["spec"]["egress"][0]["ports"]


def test_long_release_names_stay_within_kubernetes_limits(render):
    docs = render("-f", str(ALL_FEATURES), "--set", f"fullnameOverride={'n' * 63}")
    for doc in docs:
        assert len(doc["metadata"]["name"]) <= 63, doc["metadata"]["name"]
    # Pods get a controller-revision-hash label of the StatefulSet name + 11 characters.
    assert len(one(docs, "StatefulSet", "streams")["metadata"]["name"]) <= 52


def test_bundled_triggers_are_used_when_none_are_configured(default):
    sts = one(default, "StatefulSet", "streams")
    assert find(default, "ConfigMap") == []
    assert not {"NUDGE_TRIGGERS_FILE", "NUDGE_DECISIONS_FILE"} & set(env(sts))
    assert "triggers" not in {v["name"] for v in sts["spec"]["template"]["spec"]["volumes"]}


def test_webhook_provider_reads_its_signing_secret_from_a_secret(render, render_fails):
    docs = render(
        "--set",
        "delivery.provider=webhook",
        "--set",
        "delivery.webhook.url=https://hooks.example.com/push",
        "--set",
        "delivery.webhook.existingSecret=nudge-webhook",
    )
    delivery = env(one(docs, "Deployment", "delivery"))
    assert delivery["NUDGE_DELIVERY_PROVIDER"]["value"] == "webhook"
    assert delivery["NUDGE_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "nudge-webhook",
        "key": "webhook-secret",
    }
    assert "delivery.webhook.url is required" in render_fails("--set", "delivery.provider=webhook")
