"""librdkafka's in-process mock cluster, driven through its C API (ctypes) for what Python lacks.

The cluster speaks the real Kafka protocol on 127.0.0.1; any client (in this process or in a
``samplerr run`` subprocess) reaches it with ``bootstrap.servers = cluster.bootstrap``. It lives as long
as this object: keep it referenced for the whole session. Topics are auto-created with 4 partitions;
:meth:`MockKafka.create_topic` makes one with any number of partitions.

Each mock partition keeps at most 5 MiB of message sets (and 100,000 of them): older messages are
deleted as newer ones arrive, like retention. Keep what a test produces ahead of its consumer under
that (compress with ``compression.type = "lz4"``, use more partitions, or produce while consuming).
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Iterable

import confluent_kafka

RD_KAFKA_PRODUCER = 0


def _library() -> ctypes.CDLL:
    libs = os.path.join(os.path.dirname(confluent_kafka.__file__), os.pardir, "confluent_kafka.libs")
    paths = sorted(glob.glob(os.path.join(libs, "librdkafka*.so*")))
    if not paths:
        raise RuntimeError(f"librdkafka not found next to confluent_kafka in {libs}")
    lib = ctypes.CDLL(paths[0])
    vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    lib.rd_kafka_conf_new.restype = vp
    lib.rd_kafka_conf_set.argtypes = [vp, cp, cp, cp, sz]
    lib.rd_kafka_new.restype = vp
    lib.rd_kafka_new.argtypes = [ctypes.c_int, vp, cp, sz]
    lib.rd_kafka_destroy.argtypes = [vp]
    lib.rd_kafka_handle_mock_cluster.restype = vp
    lib.rd_kafka_handle_mock_cluster.argtypes = [vp]
    lib.rd_kafka_mock_cluster_bootstraps.restype = cp
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [vp]
    lib.rd_kafka_mock_topic_create.argtypes = [vp, cp, ctypes.c_int, ctypes.c_int]
    lib.rd_kafka_mock_group_initial_rebalance_delay_ms.argtypes = [vp, ctypes.c_int32]
    lib.rd_kafka_mock_broker_set_down.argtypes = [vp, ctypes.c_int32]
    lib.rd_kafka_mock_broker_set_up.argtypes = [vp, ctypes.c_int32]
    lib.rd_kafka_mock_push_request_errors_array.argtypes = [
        vp,
        ctypes.c_int16,
        sz,
        ctypes.POINTER(ctypes.c_int),
    ]
    lib.rd_kafka_mock_clear_request_errors.argtypes = [vp, ctypes.c_int16]
    return lib


API_PRODUCE = 0  # Kafka's ApiKey of Produce requests


class MockKafka:
    """A mock Kafka cluster owned by a bare librdkafka handle."""

    def __init__(self, brokers: int = 1) -> None:
        self._lib = lib = _library()
        errstr = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        for key, value in {"test.mock.num.brokers": str(brokers), "log_level": "3"}.items():
            if lib.rd_kafka_conf_set(conf, key.encode(), value.encode(), errstr, 512) != 0:
                raise RuntimeError(errstr.value.decode())
        self._rk = lib.rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, 512)
        if not self._rk:
            raise RuntimeError(errstr.value.decode())
        self._cluster = lib.rd_kafka_handle_mock_cluster(self._rk)
        self.bootstrap: str = lib.rd_kafka_mock_cluster_bootstraps(self._cluster).decode()
        lib.rd_kafka_mock_group_initial_rebalance_delay_ms(self._cluster, 0)

    def create_topic(self, name: str, partitions: int) -> str:
        err = self._lib.rd_kafka_mock_topic_create(self._cluster, name.encode(), partitions, 1)
        if err != 0:
            raise RuntimeError(f"rd_kafka_mock_topic_create({name!r}, {partitions}) failed: error {err}")
        return name

    def broker_down(self, broker: int = 1) -> None:
        """Close the broker's connections and refuse new ones (same port) until :meth:`broker_up`."""
        err = self._lib.rd_kafka_mock_broker_set_down(self._cluster, broker)
        if err != 0:
            raise RuntimeError(f"rd_kafka_mock_broker_set_down({broker}) failed: error {err}")

    def broker_up(self, broker: int = 1) -> None:
        err = self._lib.rd_kafka_mock_broker_set_up(self._cluster, broker)
        if err != 0:
            raise RuntimeError(f"rd_kafka_mock_broker_set_up({broker}) failed: error {err}")

    def fail_requests(self, api_key: int, error: int, count: int) -> None:
        """Answer the next ``count`` requests of ``api_key`` (any client) with Kafka error code ``error``."""
        errors = (ctypes.c_int * count)(*([error] * count))
        self._lib.rd_kafka_mock_push_request_errors_array(self._cluster, api_key, count, errors)

    def clear_request_errors(self, api_key: int) -> None:
        self._lib.rd_kafka_mock_clear_request_errors(self._cluster, api_key)

    def producer(self, **config: object) -> confluent_kafka.Producer:
        return confluent_kafka.Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5, **config})

    def produce(
        self,
        topic: str,
        messages: Iterable[tuple[int, bytes]],
        key: bytes | None = None,
        config: dict[str, object] | None = None,
    ) -> int:
        """Produce (partition, value) pairs and wait until all are acknowledged; returns the count."""
        producer = self.producer(**(config or {}))
        failures: list[str] = []

        def delivered(err: confluent_kafka.KafkaError | None, _msg: object) -> None:
            if err is not None:
                failures.append(err.str())

        count = 0
        for partition, value in messages:
            while True:
                try:
                    producer.produce(topic, value, key=key, partition=partition, on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.05)
            count += 1
            if count % 10_000 == 0:
                producer.poll(0)
        left = producer.flush(30)
        if left:
            raise RuntimeError(f"{left} messages not acknowledged by the mock cluster")
        if failures:
            raise RuntimeError(f"{len(failures)} messages not delivered: {failures[0]}")
        return count

    def close(self) -> None:
        if self._rk:
            self._lib.rd_kafka_destroy(self._rk)
            self._rk = None
