"""The declarative spec of every Nudge topic, applied idempotently with the Kafka AdminClient."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from connectors.ingest.errors import TopicSpecError
from schemas import topics

DAY_MS = 86_400_000
# Input events are replayable history for recovery and backfills; a week covers a long outage.
EVENTS_RETENTION_MS = 7 * DAY_MS
# Decisions, deliveries and dead letters are what analysts and operators look back on.
AUDIT_RETENTION_MS = 30 * DAY_MS
# Jobs are only useful until they expire (not_after_ms is hours to days away).
JOBS_RETENTION_MS = 3 * DAY_MS
COMPACT = {"cleanup.policy": "compact", "min.compaction.lag.ms": str(60_000)}
OPERATION_TIMEOUT_S = 30
# Brokers apply new partitions and configs asynchronously; apply returns once they are visible.
SETTLE_TIMEOUT_S = 15
# Broker answers that mean a concurrent or just-finished apply already did the work (stale metadata).
_ALREADY_DONE = {KafkaError.TOPIC_ALREADY_EXISTS, KafkaError.INVALID_PARTITIONS}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: name (without prefix), partition count and topic-level configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def _keep(ms: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(ms)}


def default_specs(partitions: int = 4) -> list[TopicSpec]:
    """Every topic Nudge reads or writes; partitions are the user-keyed parallelism."""
    inputs = [
        TopicSpec(topics.BEHAVIOR_EVENTS, partitions, _keep(EVENTS_RETENTION_MS)),
        TopicSpec(topics.USER_PROFILES, partitions, COMPACT),
        TopicSpec(topics.DEVICE_TOKENS, partitions, COMPACT),
        TopicSpec(topics.CATALOG_UPDATES, partitions, _keep(AUDIT_RETENTION_MS)),
    ]
    return [
        *inputs,
        *(TopicSpec(topics.dlq_for(s.name), 1, _keep(AUDIT_RETENTION_MS)) for s in inputs),
        TopicSpec(topics.NOTIFICATION_JOBS, partitions, _keep(JOBS_RETENTION_MS)),
        TopicSpec(topics.JOBS_RETRY, partitions, _keep(JOBS_RETENTION_MS)),
        TopicSpec(topics.JOBS_DLQ, 1, _keep(AUDIT_RETENTION_MS)),
        TopicSpec(topics.NOTIFICATION_DECISIONS, partitions, _keep(AUDIT_RETENTION_MS)),
        TopicSpec(topics.NOTIFICATION_DELIVERY, partitions, _keep(AUDIT_RETENTION_MS)),
        TopicSpec(topics.TRIGGER_METRICS, 1, _keep(AUDIT_RETENTION_MS)),
    ]


@dataclass
class ApplyReport:
    """What `apply_topics` did, topic by topic."""

    created: list[str] = field(default_factory=list)
    partitions_raised: list[str] = field(default_factory=list)
    configs_changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self, planned: bool = False) -> list[str]:
        """One line per topic, in the past tense, or as a plan."""
        verbs = (
            ("create", "raise partitions of", "update configs of")
            if planned
            else ("created", "raised partitions of", "updated configs of")
        )
        out = [f"{verbs[0]} {n}" for n in self.created]
        out += [f"{verbs[1]} {n}" for n in self.partitions_raised]
        out += [f"{verbs[2]} {n}" for n in self.configs_changed]
        out += [f"unchanged {n}" for n in self.unchanged]
        return out + [f"warning: {w}" for w in self.warnings]


def apply_topics(
    admin: AdminClient,
    specs: list[TopicSpec],
    *,
    prefix: str = "",
    replication_factor: int = -1,
    dry_run: bool = False,
    _attempt: int = 0,
) -> ApplyReport:
    """Create missing topics, raise partition counts, set configs; never delete or shrink anything."""
    report = ApplyReport()
    wanted = {topics.prefixed(prefix, s.name): s for s in specs}
    existing = admin.list_topics(timeout=OPERATION_TIMEOUT_S).topics
    missing = [n for n in wanted if n not in existing]
    if missing and not dry_run:
        new = [NewTopic(n, wanted[n].partitions, replication_factor, config=wanted[n].config) for n in missing]
        done_already = _wait(admin.create_topics(new, operation_timeout=OPERATION_TIMEOUT_S), "create")
        if done_already:  # metadata lagged behind a creation that had already happened: look again
            if _attempt >= 5:
                raise TopicSpecError(f"topics {done_already} exist but the broker's metadata does not show them")
            time.sleep(0.5)
            return apply_topics(
                admin, specs, prefix=prefix, replication_factor=replication_factor, _attempt=_attempt + 1
            )
    report.created += missing

    present = [n for n in wanted if n in existing]
    raise_to = {}
    for name in present:
        have = len(existing[name].partitions)
        if have < wanted[name].partitions:
            raise_to[name] = wanted[name].partitions
        elif have > wanted[name].partitions:
            report.warnings.append(f"{name} has {have} partitions, more than the {wanted[name].partitions} specified")
    if raise_to and not dry_run:
        parts = [NewPartitions(n, count) for n, count in raise_to.items()]
        for name in _wait(admin.create_partitions(parts, operation_timeout=OPERATION_TIMEOUT_S), "add partitions to"):
            del raise_to[name]  # metadata lagged: the broker already has (at least) that many
    report.partitions_raised += list(raise_to)

    to_alter = []
    if present:
        resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in present]
        described = admin.describe_configs(resources, request_timeout=OPERATION_TIMEOUT_S)
        for resource, future in described.items():
            current = {k: v.value for k, v in future.result(timeout=OPERATION_TIMEOUT_S).items()}
            diff = {k: v for k, v in wanted[resource.name].config.items() if current.get(k) != v}
            if diff:
                entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in diff.items()]
                to_alter.append(ConfigResource(ConfigResource.Type.TOPIC, resource.name, incremental_configs=entries))
    if to_alter and not dry_run:
        _wait(admin.incremental_alter_configs(to_alter), "update configs of")
    report.configs_changed += [r.name for r in to_alter]
    if not dry_run and (report.created or raise_to or to_alter):
        _settle(admin, wanted)
    touched = set(report.partitions_raised) | set(report.configs_changed)
    report.unchanged += [n for n in present if n not in touched]
    return report


def _differences(admin: AdminClient, wanted: dict[str, TopicSpec]) -> list[str]:
    """Topics whose metadata or configs do not (yet) show the spec."""
    existing = admin.list_topics(timeout=OPERATION_TIMEOUT_S).topics
    off = [n for n, s in wanted.items() if n not in existing or len(existing[n].partitions) < s.partitions]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in wanted if n not in off]
    if not resources:  # no topic shows up yet (just created): describe_configs refuses an empty list
        return off
    for resource, future in admin.describe_configs(resources, request_timeout=OPERATION_TIMEOUT_S).items():
        current = future.result(timeout=OPERATION_TIMEOUT_S)
        if any(k not in current or current[k].value != v for k, v in wanted[resource.name].config.items()):
            off.append(resource.name)
    return off


def _settle(admin: AdminClient, wanted: dict[str, TopicSpec]) -> None:
    """Wait until the broker shows every change, so the next apply (or reader) sees the spec."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while off := _differences(admin, wanted):
        if time.monotonic() > deadline:
            raise TopicSpecError(f"changes to {off} not visible after {SETTLE_TIMEOUT_S} s")
        time.sleep(0.2)


def _wait(futures: dict, action: str) -> list[str]:
    """Wait for admin futures; return the names whose change had already been made; raise on real errors."""
    errors, already = [], []
    for key, future in futures.items():
        name = getattr(key, "name", key)
        try:
            future.result(timeout=OPERATION_TIMEOUT_S)
        except KafkaException as exc:
            code = exc.args[0].code() if exc.args and isinstance(exc.args[0], KafkaError) else None
            if code in _ALREADY_DONE:
                already.append(name)
            else:
                errors.append(f"{name}: {exc}")
    if errors:
        raise TopicSpecError(f"could not {action} topics: " + "; ".join(errors))
    return already
