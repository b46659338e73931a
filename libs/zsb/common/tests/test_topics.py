"""The local platform creates every service's topic and dead-letter topic before it starts."""

from __future__ import annotations

import uuid

from kafka.admin import KafkaAdminClient

from zsb.common.topics import PARTITIONS, create_platform_topics, platform_topics


def test_topics_are_created_once_with_their_partitions(kafka_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    expected = platform_topics(prefix)
    assert f"{prefix}zsb.results.v1.events.dlq" in expected and len(expected) == 12
    assert sorted(create_platform_topics(kafka_bootstrap, prefix)) == sorted(expected)
    assert create_platform_topics(kafka_bootstrap, prefix) == []  # idempotent
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = {t["topic"]: len(t["partitions"]) for t in admin.describe_topics(expected)}
    finally:
        admin.close()
    assert described == dict.fromkeys(expected, PARTITIONS)
