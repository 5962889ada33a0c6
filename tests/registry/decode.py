#!/usr/bin/env python3
"""The format tests' independent decoder: Confluent-framed values decoded
with the schema the registry has under each record's id: Avro with fastavro,
Protobuf with the protobuf runtime (the schema's text compiled by protoc from
grpcio-tools; the message picked by the record's message indexes), JSON
Schema with the `jsonschema` validator.

    decode.py REGISTRY_URL [SUBJECT] < values   (one hex-encoded value per line)

With SUBJECT, first prints {"latest_id": ID} of the subject's latest version.
Then one JSON line per value: {"id": ID, "value": DECODED} (protobuf adds
"message": its full name and "indexes"; JSON adds "errors": the validator's
messages, empty when the value is valid) or {"error": WHY} for a value that
is not framed, not of its schema, or has bytes left over.
"""
import importlib.resources
import io
import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request

import fastavro
import jsonschema
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from grpc_tools import protoc

schemas = {}


def schema(url, schema_id):
    """(kind, parsed) for the id: fastavro's schema, or protobuf's file."""
    if schema_id not in schemas:
        with urllib.request.urlopen(f"{url}/schemas/ids/{schema_id}") as r:
            answer = json.load(r)
        kind = answer.get("schemaType", "AVRO")
        if kind == "PROTOBUF":
            schemas[schema_id] = (kind, compile_proto(answer["schema"]))
        elif kind == "JSON":
            parsed = json.loads(answer["schema"])
            cls = jsonschema.validators.validator_for(parsed)
            cls.check_schema(parsed)
            schemas[schema_id] = (kind, cls(parsed))
        else:
            schemas[schema_id] = (kind, fastavro.parse_schema(json.loads(answer["schema"])))
    return schemas[schema_id]


def compile_proto(text):
    """The registered .proto text compiled by protoc: (pool, file proto)."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "schema.proto"), "w") as f:
            f.write(text)
        well_known = importlib.resources.files("grpc_tools") / "_proto"
        out = os.path.join(tmp, "set.pb")
        rc = protoc.main(["protoc", f"-I{tmp}", f"-I{well_known}", "--include_imports",
                          f"--descriptor_set_out={out}", "schema.proto"])
        if rc != 0:
            raise ValueError(f"protoc failed ({rc}) on the registered schema")
        with open(out, "rb") as f:
            files = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in files.file:
        pool.Add(fd)
    main = next(fd for fd in files.file if fd.name == "schema.proto")
    return pool, main


def varint(body):
    shift = n = 0
    while True:
        b = body.read(1)[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return (n >> 1) ^ -(n & 1)  # zigzag


def decode_protobuf(parsed, body):
    pool, main = parsed
    count = varint(body)
    indexes = [varint(body) for _ in range(count)] if count else [0]
    protos = main.message_type
    name = main.package
    for i in indexes:
        proto = protos[i]
        name = f"{name}.{proto.name}" if name else proto.name
        protos = proto.nested_type
    desc = pool.FindMessageTypeByName(name)
    message = message_factory.GetMessageClass(desc)()
    message.ParseFromString(body.read())
    return {"message": name, "indexes": indexes, "value": fields(message)}


def fields(message):
    """Every field of the message (defaults included), as plain values."""
    return {f.name: field(f, getattr(message, f.name)) for f in message.DESCRIPTOR.fields}


def field(f, v):
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        value_field = f.message_type.fields_by_name["value"]
        return {k: one(value_field, x) for k, x in v.items()}
    if f.label == FieldDescriptor.LABEL_REPEATED:
        return [one(f, x) for x in v]
    return one(f, v)


def one(f, v):
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        return fields(v)
    if f.type == FieldDescriptor.TYPE_ENUM:
        return f.enum_type.values_by_number[v].name
    if f.type == FieldDescriptor.TYPE_BYTES:
        return v.hex()
    return v


def decode(url, raw):
    if len(raw) < 5 or raw[0] != 0:
        return {"error": f"not framed: starts {raw[:5].hex()}"}
    schema_id = int.from_bytes(raw[1:5], "big")
    body = io.BytesIO(raw[5:])
    kind, parsed = schema(url, schema_id)
    if kind == "PROTOBUF":
        return {"id": schema_id, **decode_protobuf(parsed, body)}
    if kind == "JSON":
        value = json.loads(body.read())
        errors = sorted(e.message for e in parsed.iter_errors(value))
        return {"id": schema_id, "value": value, "errors": errors}
    if kind != "AVRO":
        return {"error": f"schema {schema_id} is {kind}"}
    value = fastavro.schemaless_reader(body, parsed, None)
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
