"""Create the platform's topics before its consumers subscribe.

kafka-python 2.2 can leave a consumer with no partitions for the life of the process when it
subscribes before its topics exist (the rejoin after the topics appear may be lost). Production
creates the topics with the deployment (KafkaTopic resources); a local platform (`make run`, the
test fixtures, the benchmarks) creates them here first, which is idempotent.
"""

from __future__ import annotations

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from zsb.common.events import dlq_topic, topic_for
from zsb.common.settings import SERVICE_NAMES

PARTITIONS = 3


def platform_topics(prefix: str = "") -> list[str]:
    """Every service's event topic and its dead-letter topic, under the run's prefix."""
    names = [topic_for(service, prefix) for service in SERVICE_NAMES]
    return names + [dlq_topic(name) for name in names]


def create_platform_topics(bootstrap_servers: str, prefix: str = "") -> list[str]:
    """Create the topics that are missing; returns the names created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","), client_id="zsb-topics")
    try:
        missing = sorted(set(platform_topics(prefix)) - set(admin.list_topics()))
        created = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, PARTITIONS, 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another platform of the same run created it meanwhile
        return created
    finally:
        admin.close()
