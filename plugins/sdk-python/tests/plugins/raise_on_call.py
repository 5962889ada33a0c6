"""Test plugin: a pass-through transform that raises RuntimeError (not
streamplug.Error) on the `n`th process call of each instance (config `n`,
default 3): the call traps, and the host restarts the plugin and gives the
new instance the same batch."""

import streamplug


class RaiseOnCall(streamplug.Transform):
    def __init__(self, config):
        config.deny_unknown(["n"])
        self.n = config.int("n", 3)
        self.calls = 0

    def process(self, records, out):
        self.calls += 1
        if self.calls == self.n:
            streamplug.log("warn", f"raise-on-call: call {self.calls}, raising as configured")
            raise RuntimeError("raise-on-call: as configured")
        for r in records:
            out.push(r)


WitWorld = streamplug.transform_world(RaiseOnCall)
