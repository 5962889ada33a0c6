#!/usr/bin/env python3
"""CPU per record of bench cases (a), (b) and (c), item by item.

    account.py RECORDS DIR

DIR holds, per case, CASE.folded (stacks from `perf script` through
`inferno-collapse-perf --all`, one line per stack: frames joined by `;`
and a sample count) and CASE.time (user and system CPU seconds from
/usr/bin/time). Each sample is charged to one item: the allocator or the
kernel if the sampled function is theirs, otherwise the nearest frame, from
the sampled function up, that belongs to a known part (librdkafka, plugin
code, wasmtime, the host, ...). An item's share of the samples times the
case's CPU seconds, divided by RECORDS, is its CPU per record. Prints
markdown tables: per item and per thread.
"""

import collections
import pathlib
import re
import sys

CASES = ["a", "b", "c"]

# (item, test on one frame), tried in this order on each frame.
PARTS = [
    ("plugins: code compiled from WebAssembly", lambda f: f.startswith("wasm[")),
    ("plugins: wasmtime (calls into plugins, copying batches in and out)",
     lambda f: "wasmtime" in f or "cranelift" in f),
    ("host: codec (reading and checking batches)", lambda f: "streamplug_codec" in f),
    ("host: handing records over (runs, caps, window)",
     lambda f: "producer::handover" in f or "SharedProducer" in f or "OpenRun" in f),
    ("host: delivery reports", lambda f: "producer::reports" in f or "DeliveryRouter" in f),
    ("host: pipeline and the rest", lambda f: f.startswith("streamplug::") or "<streamplug::" in f),
    ("(a): the loop's own work (keys, values, timing)", lambda f: "bare::" in f or "bench::" in f),
    ("librdkafka", lambda f: f.startswith("rd_") or f.startswith("LZ4") or "crc32" in f.lower()),
    ("rust-rdkafka wrapper", lambda f: "rdkafka::" in f),
]
ALLOCATOR = re.compile(
    r"^(_?mi_|mi_|malloc|free|calloc|realloc|cfree|_int_(malloc|free)|malloc_consolidate|"
    r"unlink_chunk|tcache|__libc_(malloc|free|calloc)|__rust_(alloc|dealloc|realloc)|"
    r"alloc::alloc::|__GI___libc_malloc)")


# Which of librdkafka's jobs a sample of it does, by its thread and stack.
REPORTS = re.compile(r"rd_kafka_(queue_poll|poll|event_|flush)|BaseProducer.*::poll|serve_reports")


def librdkafka_job(thread, frames):
    if thread.startswith("rdk:"):
        return "librdkafka: batching, compression, network (its broker thread)"
    if thread == "kafka-reports" or any(REPORTS.search(f) for f in frames):
        return "librdkafka: delivery reports (freeing each record, its headers, the events)"
    return "librdkafka: produce call (copying each record in, partitioner)"


def item_of(stack):
    thread = stack.split(";", 1)[0]
    frames = stack.split(";")[1:]  # the first frame is the thread's name
    leaf = frames[-1] if frames else ""
    if leaf.endswith("_[k]"):
        return "kernel (system calls, network, scheduling)"
    if ALLOCATOR.match(leaf):
        return "allocator"
    for frame in reversed(frames):
        for name, test in PARTS:
            if test(frame):
                return librdkafka_job(thread, frames) if name == "librdkafka" else name
    if re.match(r"^(__)?(mem|str|pthread|clock_gettime|__vdso|_dl_|__lll|futex)", leaf):
        return "C library (copies, locks, clocks)"
    return "other (Rust std, start-up)"


def thread_of(stack):
    name = stack.split(";", 1)[0]
    # Threads with numbered names (rdk:broker1, source-datagen) keep their kind.
    return re.sub(r"\d+$", "", name)


def load(directory, case):
    items, threads = collections.Counter(), collections.Counter()
    for line in (directory / f"{case}.folded").read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        items[item_of(stack)] += n
        threads[thread_of(stack)] += n
    user, system = (float(x) for x in (directory / f"{case}.time").read_text().split()[:2])
    return items, threads, user + system


def table(title, per_case, cpu, records):
    keys = sorted({k for c in per_case.values() for k in c},
                  key=lambda k: -max(per_case[c][k] / max(1, sum(per_case[c].values())) * cpu[c]
                                     for c in per_case))
    us = {c: {k: per_case[c][k] / max(1, sum(per_case[c].values())) * cpu[c] / records * 1e6
              for k in keys} for c in per_case}
    out = [f"| {title} | (a) | (b) | (c) | (c) − (a) |", "|---|---|---|---|---|"]
    for k in keys:
        a, b, c = (us[x][k] for x in CASES)
        out.append(f"| {k} | {a:.2f} | {b:.2f} | {c:.2f} | {c - a:+.2f} |")
    total = {x: cpu[x] / records * 1e6 for x in CASES}
    out.append(f"| **total (user + system CPU)** | **{total['a']:.2f}** | **{total['b']:.2f}** | "
               f"**{total['c']:.2f}** | **{total['c'] - total['a']:+.2f}** |")
    return "\n".join(out)


def main():
    records, directory = int(sys.argv[1]), pathlib.Path(sys.argv[2])
    items, threads, cpu = {}, {}, {}
    for case in CASES:
        items[case], threads[case], cpu[case] = load(directory, case)
    print(f"CPU µs per record, {records:,} records of 100 B\n")
    print(table("item", items, cpu, records))
    print()
    print(table("thread", threads, cpu, records))


if __name__ == "__main__":
    main()
