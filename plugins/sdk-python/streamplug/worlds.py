"""The three worlds: the classes a plugin subclasses, and the WitWorld
classes componentize-py exports. The generated bindings (`wit_world`) exist
only inside a component, so they are imported when a call needs them."""

from dataclasses import dataclass, field

from .codec import BatchWriter, DecodeError, read_batch
from .config import Config
from .errors import Error

READY = "ready"
FINISHED = "finished"


@dataclass(frozen=True)
class Idle:
    """Nothing more now: poll again in about `ms` milliseconds."""
    ms: int = 0


IDLE = Idle()


@dataclass
class DeliveryReport:
    committed: bytes | None = None
    failed: list = field(default_factory=list)  # (cause, count) pairs


class Source:
    """Makes records. `__init__(config, resume)` is called once per instance:
    `resume` is the checkpoint (bytes) to continue after, or None."""

    def poll(self, out: BatchWriter):
        """Writes records to `out` until `out.is_full()`; returns READY,
        Idle(ms) or FINISHED."""
        raise NotImplementedError

    def checkpoint(self):
        """Where the source has got to once the last poll's records are made (bytes), or None."""
        return None

    def delivered(self, report: DeliveryReport):
        """Delivery feedback between polls."""


class Transform:
    def process(self, records, out: BatchWriter):
        raise NotImplementedError


class Partitioner:
    def partition(self, topic: str, partition_count: int, record) -> int:
        raise NotImplementedError


def log(level, message):
    """Logs through the host: level is "trace", "debug", "info", "warn" or "error"."""
    from wit_world.imports import log as host_log
    host_log.log(host_log.Level[level.upper()], str(message))


def _err(e):
    from componentize_py_types import Err
    return Err(str(e))


# The instance and its state live at module level: componentize-py makes a
# new WitWorld object for every call.
_state = {"instance": None, "finished": False}


def _instance(name):
    inst = _state["instance"]
    if inst is None:
        raise _err(f"streamplug Python SDK: {name} called before a successful setup")
    return inst


def source_world(cls):
    class WitWorld:
        def setup(self, config, resume_from):
            _state["instance"] = None
            _state["finished"] = False
            try:
                _state["instance"] = cls(Config(config), resume_from)
            except Error as e:
                raise _err(e) from None

        def poll_records(self, max_records, max_bytes):
            from wit_world.imports import source_types as t
            inst = _instance("poll-records")
            if _state["finished"]:
                return t.PollResult_Finished()
            out = BatchWriter(max_records, max_bytes)
            try:
                status = inst.poll(out)
            except Error as e:
                raise _err(e) from None
            _state["finished"] = status == FINISHED
            if out.count == 0:
                if status == FINISHED:
                    return t.PollResult_Finished()
                return t.PollResult_Idle(status.ms if isinstance(status, Idle) else 0)
            if out.count > max_records:
                raise _err(f"poll wrote {out.count} records, more than the {max_records} asked for")
            if not out.within_budget():
                raise _err(f"poll wrote {len(out.buf)} bytes in {out.count} records, over the budget "
                           f"of {max_bytes} bytes by more than one record: stop writing once "
                           "`out.is_full()`")
            checkpoint = inst.checkpoint()
            return t.PollResult_Records(t.Polled(out.finish(),
                                                 None if checkpoint is None else bytes(checkpoint)))

        def on_delivery(self, report):
            inst = _state["instance"]
            if inst is not None:
                inst.delivered(DeliveryReport(report.committed, list(report.failed)))

    return WitWorld


def transform_world(cls):
    class WitWorld:
        def setup(self, config):
            _state["instance"] = None
            try:
                _state["instance"] = cls(Config(config))
            except Error as e:
                raise _err(e) from None

        def process(self, batch):
            inst = _instance("process")
            out = BatchWriter()
            try:
                inst.process(read_batch(batch), out)
            except Error as e:
                raise _err(e) from None
            except DecodeError as e:
                raise _err(e) from None
            return out.finish()

    return WitWorld


def partitioner_world(cls):
    class WitWorld:
        def setup(self, config):
            _state["instance"] = None
            try:
                _state["instance"] = cls(Config(config))
            except Error as e:
                raise _err(e) from None

        def partition(self, topic, partition_count, batch):
            inst = _instance("partition")
            try:
                return [inst.partition(topic, partition_count, r) for r in read_batch(batch)]
            except Error as e:
                raise _err(e) from None

    return WitWorld
