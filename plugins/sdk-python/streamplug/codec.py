"""The batch encoding (wit/ENCODING.md), implemented once for Python.

Records read from a batch hold memoryview slices of it: nothing is copied
until the plugin asks (`bytes(record.value)`). Error messages are the host's
word for word (wit/test-vectors checks it).
"""

import struct

VERSION = 1
KEY, VALUE, TIMESTAMP, PARTITION, TOPIC = 0x01, 0x02, 0x04, 0x08, 0x10
KNOWN_FLAGS = 0x1F
HEADER_LEN = 5

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")


class DecodeError(ValueError):
    """A batch that breaks a rule of the encoding: where and which."""


class Record:
    """One record. `key`, `value` and header values are memoryviews into the
    batch (or None); `topic` is a str or None; `headers` a list of
    (name, memoryview) in order."""

    __slots__ = ("key", "value", "timestamp", "partition", "topic", "headers", "encoded")

    def __init__(self, key=None, value=None, timestamp=None, partition=None, topic=None,
                 headers=(), encoded=None):
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.partition = partition
        self.topic = topic
        self.headers = list(headers)
        self.encoded = encoded

    def header(self, name):
        """The value of the first header named `name`, or None."""
        for n, v in self.headers:
            if n == name:
                return v
        return None


class _Cursor:
    __slots__ = ("buf", "pos", "record")

    def __init__(self, buf, pos):
        self.buf = buf
        self.pos = pos
        self.record = 0

    def fail(self, message, at=None):
        return DecodeError(f"record {self.record} at byte {self.pos if at is None else at}: {message}")

    def take(self, n, field):
        left = len(self.buf) - self.pos
        if n > left:
            raise self.fail(f"truncated {field}: needs {n} bytes, {left} left")
        s = self.buf[self.pos:self.pos + n]
        self.pos += n
        return s

    def u16(self, field):
        return _U16.unpack(self.take(2, field))[0]

    def prefixed32(self, field):
        n = _U32.unpack(self.take(4, field))[0]
        return self.take(n, field)

    def utf8(self, n, field):
        at = self.pos
        raw = self.take(n, field)
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{field} is not valid UTF-8", at) from None


def read_batch(batch):
    """Yields the records of `batch` (bytes-like); raises DecodeError at the
    first rule broken."""
    buf = memoryview(batch)
    if len(buf) == 0:
        raise DecodeError("batch header at byte 0: truncated batch header: needs 5 bytes, 0 left")
    if buf[0] != VERSION:
        raise DecodeError(
            f"batch header at byte 0: encoding version {buf[0]} is not supported (expected {VERSION})")
    if len(buf) < HEADER_LEN:
        raise DecodeError(
            f"batch header at byte 0: truncated batch header: needs 5 bytes, {len(buf)} left")
    count = _U32.unpack(buf[1:5])[0]
    c = _Cursor(buf, HEADER_LEN)
    for i in range(count):
        c.record = i
        start = c.pos
        flags = c.take(1, "flags")[0]
        if flags & ~KNOWN_FLAGS:
            raise c.fail(f"reserved flag bits set (flags {flags:#04x})")
        key = c.prefixed32("key") if flags & KEY else None
        value = c.prefixed32("value") if flags & VALUE else None
        timestamp = _I64.unpack(c.take(8, "timestamp"))[0] if flags & TIMESTAMP else None
        partition = _I32.unpack(c.take(4, "partition"))[0] if flags & PARTITION else None
        topic = c.utf8(c.u16("topic length"), "topic") if flags & TOPIC else None
        headers = []
        for _ in range(c.u16("header count")):
            name = c.utf8(c.u16("header name length"), "header name")
            headers.append((name, c.prefixed32("header value")))
        yield Record(key, value, timestamp, partition, topic, headers, buf[start:c.pos])
    left = len(buf) - c.pos
    if left:
        raise c.fail(f"{left} bytes follow the last record")


class BatchWriter:
    """Builds a batch. A source's writer carries the poll's budget:
    stop adding records once `is_full()`."""

    def __init__(self, max_records=0xFFFFFFFF, max_bytes=0xFFFFFFFFFFFFFFFF):
        self.buf = bytearray(b"\x01\x00\x00\x00\x00")
        self.count = 0
        self.last_start = HEADER_LEN
        self.max_records = max_records
        self.max_bytes = max_bytes

    def __len__(self):
        return self.count

    def is_full(self):
        return self.count >= self.max_records or (self.count > 0 and len(self.buf) >= self.max_bytes)

    def within_budget(self):
        return self.count <= self.max_records and (self.count <= 1 or self.last_start < self.max_bytes)

    def record(self, key=None, value=None, timestamp=None, partition=None, topic=None, headers=()):
        """Appends a record. key/value: bytes-like or str (UTF-8) or None;
        headers: (name, value) pairs."""
        b = self.buf
        self.last_start = len(b)
        flags = ((KEY if key is not None else 0) | (VALUE if value is not None else 0)
                 | (TIMESTAMP if timestamp is not None else 0)
                 | (PARTITION if partition is not None else 0) | (TOPIC if topic is not None else 0))
        b.append(flags)
        if key is not None:
            key = _bytes(key)
            b += _U32.pack(len(key))
            b += key
        if value is not None:
            value = _bytes(value)
            b += _U32.pack(len(value))
            b += value
        if timestamp is not None:
            b += _I64.pack(timestamp)
        if partition is not None:
            b += _I32.pack(partition)
        if topic is not None:
            t = topic.encode("utf-8")
            b += _U16.pack(len(t))
            b += t
        headers = list(headers)
        b += _U16.pack(len(headers))
        for name, val in headers:
            n = name.encode("utf-8")
            val = _bytes(val)
            b += _U16.pack(len(n))
            b += n
            b += _U32.pack(len(val))
            b += val
        self.count += 1

    def push(self, record):
        """Appends a record read from another batch, as it is (one copy)."""
        self.last_start = len(self.buf)
        self.buf += record.encoded
        self.count += 1

    def finish(self):
        """The encoded batch."""
        self.buf[1:5] = _U32.pack(self.count)
        return bytes(self.buf)


def _bytes(v):
    return v.encode("utf-8") if isinstance(v, str) else v
