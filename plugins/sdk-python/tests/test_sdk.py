"""Unit tests of the Python SDK: the encoding against wit/ENCODING.md's
example and the Rust codec's shared vectors (wit/test-vectors), and config."""

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import streamplug  # noqa: E402

VECTORS = pathlib.Path(__file__).resolve().parents[3] / "wit" / "test-vectors"

EXAMPLE = bytes([0x01, 0x01, 0, 0, 0, 0x07, 0x01, 0, 0, 0, 0x6B, 0x02, 0, 0, 0, 0x76, 0x31,
                 0xE8, 0x03, 0, 0, 0, 0, 0, 0, 0x01, 0, 0x03, 0, 0x73, 0x65, 0x71, 0x01, 0, 0, 0,
                 0x37])


def hexs(b):
    return "null" if b is None else bytes(b).hex()


def describe(r):
    headers = ",".join(f"{n.encode().hex()}={bytes(v).hex()}" for n, v in r.headers)
    return (f"key={hexs(r.key)} value={hexs(r.value)} "
            f"timestamp={'none' if r.timestamp is None else r.timestamp} "
            f"partition={'none' if r.partition is None else r.partition} "
            f"topic={'null' if r.topic is None else r.topic.encode().hex()} headers=[{headers}]\n")


class Encoding(unittest.TestCase):
    def test_encoding_md_example(self):
        w = streamplug.BatchWriter()
        w.record(key=b"k", value=b"v1", timestamp=1000, headers=[("seq", b"7")])
        self.assertEqual(w.finish(), EXAMPLE)
        (r,) = list(streamplug.read_batch(EXAMPLE))
        self.assertEqual((bytes(r.key), bytes(r.value), r.timestamp, r.partition, r.topic),
                         (b"k", b"v1", 1000, None, None))
        self.assertEqual(bytes(r.header("seq")), b"7")
        self.assertIsInstance(r.value, memoryview, "records are not copied")

    def test_shared_vectors(self):
        valid = invalid = 0
        for path in sorted(VECTORS.glob("*.bin")):
            data = path.read_bytes()
            name = path.stem
            with self.subTest(name):
                if name.startswith("bad-"):
                    invalid += 1
                    expected = path.with_suffix(".err").read_text().rstrip("\n")
                    with self.assertRaises(streamplug.DecodeError) as e:
                        list(streamplug.read_batch(data))
                    self.assertEqual(str(e.exception), expected)
                    continue
                valid += 1
                records = list(streamplug.read_batch(data))
                self.assertEqual("".join(describe(r) for r in records),
                                 path.with_suffix(".txt").read_text())
                by_fields = streamplug.BatchWriter()
                by_push = streamplug.BatchWriter()
                for r in records:
                    by_fields.record(key=r.key, value=r.value, timestamp=r.timestamp,
                                     partition=r.partition, topic=r.topic, headers=r.headers)
                    by_push.push(r)
                self.assertEqual(by_fields.finish(), data)
                self.assertEqual(by_push.finish(), data)
        self.assertGreaterEqual(valid, 4)
        self.assertGreaterEqual(invalid, 5)

    def test_budget(self):
        w = streamplug.BatchWriter(max_records=2, max_bytes=20)
        self.assertFalse(w.is_full())
        w.record(value=b"x" * 30)
        self.assertTrue(w.is_full())
        w = streamplug.BatchWriter(max_records=2)
        w.record()
        self.assertFalse(w.is_full())
        w.record()
        self.assertTrue(w.is_full())


class ConfigAccess(unittest.TestCase):
    def test_typed_and_unknown(self):
        c = streamplug.Config([("count", "42"), ("on", "true"), ("name", "x")])
        self.assertEqual(c.int("count"), 42)
        self.assertEqual(c.int("missing", 7), 7)
        self.assertTrue(c.bool("on"))
        with self.assertRaises(streamplug.Error) as e:
            c.int("name")
        self.assertEqual(str(e.exception), 'config `name`: not an integer (got "x")')
        with self.assertRaises(streamplug.Error) as e:
            c.require("topic")
        self.assertEqual(str(e.exception), "config `topic` is required")
        with self.assertRaises(streamplug.Error) as e:
            c.deny_unknown(["count", "on"])
        self.assertEqual(str(e.exception), "config `name` is not a known setting (known: count, on)")
        c.deny_unknown(["count", "on", "name"])


if __name__ == "__main__":
    unittest.main()
