"""csv-replay: a source that replays a CSV file, one record per row.

The file must be in a directory the plugin is granted (`capabilities =
{ read_dirs = ["/data"] }`); the first row names the columns. Each row becomes
a JSON object of column -> text as the value, with the `key_column`'s text
as the key and the `timestamp_column`'s integer (ms since the epoch) as the
timestamp when configured, and a header `row` (1 for the first data row).

The checkpoint is the number of rows made (as decimal text): after a
restart or a host restart, the replay continues with the next row.
"""

import csv
import json

import streamplug


class CsvReplay(streamplug.Source):
    def __init__(self, config, resume):
        config.deny_unknown(["path", "key_column", "timestamp_column"])
        path = config.require("path")
        self.key_column = config.get("key_column")
        self.timestamp_column = config.get("timestamp_column")
        try:
            self.file = open(path, newline="", encoding="utf-8")
        except OSError as e:
            raise streamplug.Error(f"cannot open {path}: {e.strerror} (is its directory in "
                                   "the plugin's capabilities.read_dirs?)") from None
        self.rows = csv.reader(self.file)
        self.columns = next(self.rows, None)
        if self.columns is None:
            raise streamplug.Error(f"{path} is empty: the first row must name the columns")
        for name in (self.key_column, self.timestamp_column):
            if name is not None and name not in self.columns:
                raise streamplug.Error(f"{path} has no column `{name}` (columns: "
                                       f"{', '.join(self.columns)})")
        self.made = 0
        if resume is not None:
            done = int(bytes(resume).decode("ascii"))
            for _ in range(done):
                if next(self.rows, None) is None:
                    break
            self.made = done
            streamplug.log("info", f"csv-replay: resuming after row {done}")

    def poll(self, out):
        while not out.is_full():
            row = next(self.rows, None)
            if row is None:
                streamplug.log("info", f"csv-replay: done after {self.made} rows")
                return streamplug.FINISHED
            fields = dict(zip(self.columns, row))
            self.made += 1
            key = fields.get(self.key_column) if self.key_column else None
            timestamp = None
            if self.timestamp_column:
                text = fields.get(self.timestamp_column, "")
                try:
                    timestamp = int(text)
                except ValueError:
                    raise streamplug.Error(f"row {self.made}: `{self.timestamp_column}` is not "
                                           f"an integer (got {text!r})") from None
            out.record(key=key, value=json.dumps(fields, separators=(",", ":")),
                       timestamp=timestamp, headers=[("row", str(self.made))])
            if self.made % 1000 == 0:
                streamplug.log("info", f"csv-replay: {self.made} rows made")
        return streamplug.READY

    def checkpoint(self):
        return str(self.made).encode("ascii")


WitWorld = streamplug.source_world(CsvReplay)
