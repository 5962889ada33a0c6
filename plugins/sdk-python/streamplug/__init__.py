"""Write streamplug plugins in Python (built with componentize-py).

A plugin module subclasses Source, Transform or Partitioner and exports it:

    import streamplug

    class Upper(streamplug.Transform):
        def __init__(self, config):
            config.deny_unknown([])
        def process(self, records, out):
            for r in records:
                out.record(key=r.key, value=bytes(r.value).upper(), headers=r.headers)

    WitWorld = streamplug.transform_world(Upper)

componentize-py makes a new WitWorld object for every call: the SDK keeps the
plugin instance at module level, so state on `self` of *your* class lives as
long as the instance.
"""

from .codec import BatchWriter, DecodeError, Record, read_batch
from .config import Config
from .errors import Error
from .worlds import (IDLE, FINISHED, READY, DeliveryReport, Idle, Partitioner, Source, Transform,
                     log, partitioner_world, source_world, transform_world)

__all__ = [
    "BatchWriter", "Config", "DecodeError", "DeliveryReport", "Error", "FINISHED", "IDLE", "Idle",
    "Partitioner", "READY", "Record", "Source", "Transform", "log", "partitioner_world",
    "read_batch", "source_world", "transform_world",
]
