//! Case (a) of the bench with the C library's allocator: the bare
//! rust-rdkafka loop as a user would write it. The bench runs it once per
//! value size as `(a-sys)`; its own (a) uses mimalloc, as streamplug does.
//! Arguments as for `bench --bare-producer`.

// Only `bare_producer` is used here; the rest serves the bench.
#[allow(dead_code)]
#[path = "bench/bare.rs"]
mod bare;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    bare::bare_producer(&args)
}
