#!/usr/bin/env python3
"""The format tests' independent decoder: Confluent-framed Avro values,
decoded with fastavro and the schema the registry has under each record's id.

    decode.py REGISTRY_URL [SUBJECT] < values   (one hex-encoded value per line)

With SUBJECT, first prints {"latest_id": ID} of the subject's latest version.
Then one JSON line per value: {"id": ID, "value": DECODED} or
{"error": WHY} for a value that is not framed, not Avro of its schema, or
has bytes left over.
"""
import io
import json
import sys
import urllib.parse
import urllib.request

import fastavro

schemas = {}


def schema(url, schema_id):
    if schema_id not in schemas:
        with urllib.request.urlopen(f"{url}/schemas/ids/{schema_id}") as r:
            answer = json.load(r)
        schemas[schema_id] = fastavro.parse_schema(json.loads(answer["schema"]))
    return schemas[schema_id]


def decode(url, raw):
    if len(raw) < 5 or raw[0] != 0:
        return {"error": f"not framed: starts {raw[:5].hex()}"}
    schema_id = int.from_bytes(raw[1:5], "big")
    body = io.BytesIO(raw[5:])
    value = fastavro.schemaless_reader(body, schema(url, schema_id), None)
    left = len(raw) - 5 - body.tell()
    if left:
        return {"error": f"{left} bytes left after the datum"}
    return {"id": schema_id, "value": value}


def main():
    url = sys.argv[1].rstrip("/")
    if len(sys.argv) > 2:
        subject = urllib.parse.quote(sys.argv[2], safe="")
        with urllib.request.urlopen(f"{url}/subjects/{subject}/versions/latest") as r:
            print(json.dumps({"latest_id": json.load(r)["id"]}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            out = decode(url, bytes.fromhex(line))
        except Exception as e:  # reported per value, the test names it
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
