"""__NAME__: a streamplug partitioner. This example places records by a hash
of their key (FNV-1a: the same key always goes to the same partition), and
records without a key round-robin."""

import streamplug


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class Plugin(streamplug.Partitioner):
    def __init__(self, config):
        config.deny_unknown([])  # no settings: any key is a typo
        self.next = 0

    def partition(self, topic, partition_count, record):
        if partition_count == 0:
            raise streamplug.Error("a topic without partitions")
        if record.key is not None:
            return fnv1a(record.key) % partition_count
        self.next += 1
        return (self.next - 1) % partition_count


WitWorld = streamplug.partitioner_world(Plugin)
