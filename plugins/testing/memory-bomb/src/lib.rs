//! Breaks memory limits: `poll` allocates 1 MiB blocks, touches every page,
//! and keeps them forever, so the host's memory limit must stop it (the
//! refused `memory.grow` makes the guest abort).

use std::sync::Mutex;

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

static HOARD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

struct MemoryBomb;

impl Source for MemoryBomb {
    fn init(_config: Config) -> Result<Self, String> {
        Ok(MemoryBomb)
    }

    fn poll(&mut self, _max_records: u32, _out: &mut BatchWriter) -> Result<Poll, String> {
        let mut hoard = HOARD.lock().unwrap();
        loop {
            // `vec![1; n]` writes every byte: the pages are really used.
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
}

streamplug_sdk::export_source!(MemoryBomb);
