"""gRPC client channels: resolved by discovery, carrying request id and access token."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import grpc

from zsb.common.context import (
    ACCESS_TOKEN_HEADER,
    REQUEST_ID_HEADER,
    get_access_token,
    get_request_id,
)
from zsb.common.discovery import Discovery

# Retry UNAVAILABLE (a replica restarting) a few times; calls carry their own deadline.
_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


class _ContextMetadata(grpc.UnaryUnaryClientInterceptor):
    """Adds the current request id and access token to every outgoing call."""

    def intercept_unary_unary(self, continuation: Callable, details: Any, request: Any) -> Any:
        metadata = list(details.metadata or [])
        if rid := get_request_id():
            metadata.append((REQUEST_ID_HEADER, rid))
        if token := get_access_token():
            metadata.append((ACCESS_TOKEN_HEADER, f"Bearer {token}"))
        return continuation(details._replace(metadata=metadata), request)


class Channels:
    """One channel per service address, created on first use and shared by threads."""

    def __init__(self, discovery: Discovery) -> None:
        self.discovery = discovery
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()

    def get(self, service: str) -> grpc.Channel:
        address = self.discovery.resolve(service)
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = grpc.intercept_channel(
                    grpc.insecure_channel(
                        address,
                        options=[
                            ("grpc.service_config", _SERVICE_CONFIG),
                            ("grpc.enable_retries", 1),
                            # A restarted replica is back within seconds; gRPC's default backoff
                            # (up to 120 s) would keep calls failing long after it returned.
                            ("grpc.initial_reconnect_backoff_ms", 200),
                            ("grpc.min_reconnect_backoff_ms", 200),
                            ("grpc.max_reconnect_backoff_ms", 2000),
                        ],
                    ),
                    _ContextMetadata(),
                )
                self._channels[address] = channel
            return channel

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
