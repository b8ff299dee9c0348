"""Write (or --check) the chart's values.schema.json: every chart-owned object is closed (additionalProperties)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parent / "nudge" / "values.schema.json"


def obj(props: dict, required: list[str] | None = None) -> dict:
    """A closed object: unknown keys (typos) are errors."""
    d: dict = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        d["required"] = required
    return d


def integer(minimum: int | None = None, maximum: int | None = None) -> dict:
    d: dict = {"type": "integer"}
    if minimum is not None:
        d["minimum"] = minimum
    if maximum is not None:
        d["maximum"] = maximum
    return d


def passthrough(kind: str) -> dict:
    """A Kubernetes object passed through whole; Kubernetes' own schema checks it in the rendered manifest."""
    return {
        "type": "object",
        "description": f"Kubernetes {kind}, passed through as is; the rendered manifest is validated "
        "against the Kubernetes schema",
    }


S = {"type": "string"}
NONEMPTY = {"type": "string", "minLength": 1}
B = {"type": "boolean"}
PORT = integer(1, 65535)
STRMAP = {"type": "object", "additionalProperties": {"type": "string"}}
QTY = {"type": ["string", "number"], "pattern": "^[0-9.]+[a-zA-Z]*$"}
RESOURCES = obj(
    {
        "requests": {"type": "object", "additionalProperties": QTY},
        "limits": {"type": "object", "additionalProperties": QTY},
    }
)
ENV = {"type": "array", "items": obj({"name": S, "value": S, "valueFrom": passthrough("EnvVarSource")}, ["name"])}
TOLERATIONS = {
    "type": "array",
    "items": obj(
        {
            "key": S,
            "operator": {"enum": ["Exists", "Equal"]},
            "value": S,
            "effect": {"enum": ["", "NoSchedule", "PreferNoSchedule", "NoExecute"]},
            "tolerationSeconds": integer(0),
        }
    ),
}
SELECTOR = obj(
    {
        "matchLabels": STRMAP,
        "matchExpressions": {
            "type": "array",
            "items": obj(
                {
                    "key": S,
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": S},
                },
                ["key", "operator"],
            ),
        },
    }
)
PDB = obj({"create": B, "maxUnavailable": {"type": ["integer", "string"]}})
PROBE = obj({"periodSeconds": integer(1), "failureThreshold": integer(1)})
RETAIN = {"enum": ["Retain", "Delete"]}
DURATION = {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"}


def workload(extra: dict) -> dict:
    """The keys every component shares, plus its own."""
    return obj(
        {
            "enabled": B,
            "replicaCount": integer(0),
            "terminationGracePeriodSeconds": integer(0),
            "resources": RESOURCES,
            "podAnnotations": STRMAP,
            "nodeSelector": STRMAP,
            "tolerations": TOLERATIONS,
            "affinity": passthrough("Affinity"),
            "extraEnv": ENV,
            "pdb": PDB,
            **extra,
        }
    )


SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Nudge chart values",
    **obj(
        {
            "nameOverride": S,
            "fullnameOverride": S,
            "commonLabels": STRMAP,
            "commonAnnotations": STRMAP,
            "image": obj(
                {
                    "registry": S,
                    "repository": {"type": "string", "minLength": 1},
                    "tag": S,
                    "digest": {"type": "string", "pattern": "^(|sha256:[a-f0-9]{64})$"},
                    "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
                    "pullSecrets": {"type": "array", "items": S},
                }
            ),
            "serviceAccount": obj({"create": B, "name": S, "annotations": STRMAP}),
            "podSecurityContext": passthrough("PodSecurityContext"),
            "containerSecurityContext": passthrough("SecurityContext"),
            "config": obj(
                {
                    "appId": {"type": "string", "minLength": 1},
                    "topicPartitions": integer(1),
                    "topicPrefix": S,
                    "bindAddress": {"type": "string", "minLength": 1},
                    "extraEnv": ENV,
                }
            ),
            "kafka": obj(
                {
                    "bootstrap": {"type": "string", "minLength": 1},
                    "securityProtocol": {"enum": ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]},
                    "sasl": obj(
                        {
                            "mechanism": {"enum": ["", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]},
                            "username": S,
                            "existingSecret": S,
                            "existingSecretPasswordKey": {"type": "string", "minLength": 1},
                        }
                    ),
                    "tls": obj({"existingSecret": S, "caKey": {"type": "string", "minLength": 1}}),
                }
            ),
            "redis": obj(
                {
                    "url": {"type": "string", "pattern": "^(|rediss?://.+)$"},
                    "existingSecret": S,
                    "existingSecretUrlKey": {"type": "string", "minLength": 1},
                }
            ),
            "triggers": obj(
                {
                    "existingConfigMap": S,
                    "fileName": {"type": "string", "minLength": 1},
                    "content": S,
                    "decisionsFileName": {"type": "string", "minLength": 1},
                    "decisions": S,
                    "templates": STRMAP,
                }
            ),
            "fcm": obj({"projectId": S, "existingSecret": S, "existingSecretKey": {"type": "string", "minLength": 1}}),
            "streams": workload(
                {
                    "logLevel": {"enum": ["debug", "info", "warning", "error", "critical"]},
                    "store": {"type": "string", "pattern": "^(memory|rocksdb)://"},
                    "nofile": integer(1024),
                    "processingGuarantee": {"enum": ["at_least_once", "exactly_once"]},
                    "commitIntervalMs": integer(100),
                    "staticMembership": B,
                    "podManagementPolicy": {"enum": ["Parallel", "OrderedReady"]},
                    "containerPorts": obj({"web": PORT}),
                    "startupProbe": PROBE,
                    "livenessProbe": PROBE,
                    "readinessProbe": PROBE,
                    "persistence": obj(
                        {
                            "enabled": B,
                            "storageClass": S,
                            "accessModes": {
                                "type": "array",
                                "minItems": 1,
                                "items": {"enum": ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"]},
                            },
                            "size": {"type": "string", "pattern": "^[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"},
                            "mountPath": {"type": "string", "pattern": "^/"},
                            "whenDeleted": RETAIN,
                            "whenScaled": RETAIN,
                        }
                    ),
                }
            ),
            "delivery": workload(
                {
                    "provider": {"enum": ["fcm", "webhook", "console"]},
                    "ratePerSecond": {"type": "number", "exclusiveMinimum": 0},
                    "fcmTransport": {"enum": ["lean", "firebase-admin"]},
                    "fcmConnections": {"type": "integer", "minimum": 1, "maximum": 16},
                    "webhook": obj(
                        {
                            "url": {"type": "string", "pattern": "^(|https?://.+)$"},
                            "existingSecret": S,
                            "existingSecretKey": {"type": "string", "minLength": 1},
                        }
                    ),
                    "consumerGroup": {"type": "string", "minLength": 1},
                    "topic": {"type": "string", "minLength": 1},
                    "containerPorts": obj({"metrics": PORT}),
                    "autoscaling": obj(
                        {
                            "hpa": obj(
                                {
                                    "enabled": B,
                                    "minReplicas": integer(1),
                                    "maxReplicas": integer(1),
                                    "targetCPU": integer(1, 100),
                                }
                            ),
                            "keda": obj(
                                {
                                    "enabled": B,
                                    "minReplicas": integer(0),
                                    "maxReplicas": integer(1),
                                    "lagThreshold": integer(1),
                                    "pollingInterval": integer(1),
                                    "authenticationRef": S,
                                }
                            ),
                            "scaleDown": obj(
                                {
                                    "stabilizationWindowSeconds": integer(0, 3600),
                                    "podsPerPeriod": integer(1),
                                    "periodSeconds": integer(1, 1800),
                                }
                            ),
                        }
                    ),
                }
            ),
            "collector": workload(
                {
                    "containerPorts": obj({"http": PORT}),
                    "auth": obj({"existingSecret": S, "existingSecretKey": {"type": "string", "minLength": 1}}),
                    "service": obj(
                        {
                            "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                            "port": PORT,
                            "annotations": STRMAP,
                        }
                    ),
                    "ingress": obj(
                        {
                            "enabled": B,
                            "ingressClassName": S,
                            "hostname": {"type": "string", "minLength": 1},
                            "path": {"type": "string", "pattern": "^/"},
                            "pathType": {"enum": ["Prefix", "Exact", "ImplementationSpecific"]},
                            "annotations": STRMAP,
                            "tlsSecret": S,
                        }
                    ),
                }
            ),
            "topics": obj(
                {"enabled": B, "backoffLimit": integer(0), "activeDeadlineSeconds": integer(1), "resources": RESOURCES}
            ),
            "monitoring": obj(
                {
                    "serviceMonitor": obj(
                        {
                            "enabled": B,
                            "namespace": S,
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                            "scrapeTimeout": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                            "labels": STRMAP,
                        }
                    )
                }
            ),
            "networkPolicy": obj(
                {
                    "enabled": B,
                    "allowExternal": B,
                    "ingressNamespaceSelector": SELECTOR,
                    "metricsNamespaceSelector": SELECTOR,
                    "allowExternalEgress": B,
                    "extraEgress": {"type": "array", "items": passthrough("NetworkPolicyEgressRule")},
                }
            ),
        }
    ),
}


def render() -> str:
    return json.dumps(SCHEMA, indent=2) + "\n"


def main() -> int:
    """Rewrite the schema, or with --check exit 1 when it is stale."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        if SCHEMA_FILE.read_text() != render():
            print(f"{SCHEMA_FILE} is stale: run deploy/helm/values_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_FILE.write_text(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
