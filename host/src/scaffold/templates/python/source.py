"""__NAME__: a streamplug source. This example makes `count` JSON events and
then finishes; replace `poll` with reading from where your records come
from. The SDK is plugins/sdk-python of the streamplug checkout."""

import streamplug


class Plugin(streamplug.Source):
    def __init__(self, config, resume):
        # Called once per instance; `resume` is the checkpoint to continue
        # after (None on a fresh start). streamplug.Error stops the plugin.
        config.deny_unknown(["count", "kind"])  # a typo is an error
        self.count = config.int("count", 10)
        self.kind = config.get("kind", "event")
        self.next = int.from_bytes(resume, "little") if resume is not None else 0

    def poll(self, out):
        # Write until out.is_full() (the host's budget). With nothing to do,
        # return streamplug.Idle(ms) instead of sleeping.
        while self.next < self.count and not out.is_full():
            seq = str(self.next)
            out.record(key=f"key-{self.next % 4}", value=f'{{"seq":{seq},"kind":"{self.kind}"}}',
                       headers=[("seq", seq)])
            self.next += 1
        return streamplug.FINISHED if self.next >= self.count else streamplug.READY

    def checkpoint(self):
        # Where the source has got to: handed to the instance that takes over.
        return self.next.to_bytes(8, "little")


WitWorld = streamplug.source_world(Plugin)
