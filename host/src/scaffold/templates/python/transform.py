"""__NAME__: a streamplug transform. This example drops records whose value
contains `drop_if`, adds a `tagged-by` header to the others, and passes
tombstones through. The SDK is plugins/sdk-python of the streamplug checkout."""

import streamplug


class Plugin(streamplug.Transform):
    def __init__(self, config):
        config.deny_unknown(["drop_if", "tag"])  # a typo is an error
        drop_if = config.get("drop_if")
        self.drop_if = drop_if.encode() if drop_if is not None else None
        self.tag = config.get("tag", "__NAME__")

    def process(self, records, out):
        for r in records:
            if r.value is None:
                out.push(r)
                continue
            if self.drop_if is not None and self.drop_if in bytes(r.value):
                continue
            out.record(key=r.key, value=r.value, timestamp=r.timestamp, partition=r.partition,
                       topic=r.topic, headers=r.headers + [("tagged-by", self.tag)])


WitWorld = streamplug.transform_world(Plugin)
