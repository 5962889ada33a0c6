//! Write streamplug plugins in Rust.
//!
//! A plugin is a `cdylib` crate built for `wasm32-wasip2`: implement one of
//! [`Source`], [`Transform`] or [`Partitioner`] and export it with the matching
//! macro. The SDK hides the batch encoding (`wit/ENCODING.md`): records come in
//! as borrowed [`RecordRef`]s and go out through a [`BatchWriter`].
//!
//! ```
//! use streamplug_sdk::{BatchWriter, Config, Poll, Source};
//!
//! struct Counter { next: u64 }
//!
//! impl Source for Counter {
//!     fn init(config: Config) -> Result<Self, String> {
//!         Ok(Counter { next: config.parse("start", 0)? })
//!     }
//!     fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
//!         for _ in 0..max_records {
//!             out.record().value(self.next.to_string().as_bytes()).finish();
//!             self.next += 1;
//!         }
//!         Ok(Poll::Ready)
//!     }
//! }
//!
//! streamplug_sdk::export_source!(Counter);
//! ```
//!
//! # One world per component
//!
//! The `export_*!` macros expand, inside the plugin crate, to the
//! `wit_bindgen::generate!` call of their own world (the WIT text of
//! `wit/plugin.wit` is inlined by this crate's build script). This crate never
//! generates bindings itself, so a plugin's component describes exactly the
//! world it exports. The plugin crate must depend on this crate under its own
//! name (`streamplug_sdk`) and call exactly one export macro. It needs no
//! direct `wit-bindgen` dependency.
//!
//! # Testing
//!
//! With the `testing` feature (as a dev-dependency:
//! `streamplug-sdk = { …, features = ["testing"] }`), [`testing`] runs a
//! plugin's trait implementation natively in `#[test]`s, records in and out.
//!
//! # Errors and panics
//!
//! Return `Err(String)` for recoverable errors: the host logs it and carries on
//! as its policy says. An error from `init` is not recoverable: the host gives
//! the plugin up at once with that message (its config would be refused again),
//! and its pipeline stops. A panic aborts the instance (a wasm trap); the host
//! then restarts the plugin, which calls `init` again on a fresh instance, and
//! gives it up after `runtime.max_restarts` failures within the window.
//!
//! # Waiting
//!
//! Do not sleep in a plugin (`std::thread::sleep`, or a WASI poll on a clock):
//! a blocked call holds its pipeline, it counts against `call_timeout_ms` (the
//! wait ends at the limit and the call fails), and the host lets go of it at
//! shutdown. A source with nothing to do returns [`Poll::Idle`] with the
//! milliseconds to wait instead: the host waits, without holding anything.

pub use streamplug_codec as codec;
pub use streamplug_codec::{BatchWriter, HeaderBuilder, Headers, RecordBuilder, RecordRef};

mod config;
mod ext;
pub mod log;
mod records;
pub mod schema_registry;

pub use config::Config;
pub use ext::BatchWriterExt;
pub use records::Records;

/// What [`Source::poll`] says besides the records it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// The records written to `out` are ready. With nothing written, the
    /// host waits its default backoff before polling again.
    Ready,
    /// Nothing more for now: poll again in about this many milliseconds
    /// (0 = the host's default backoff). Records already written are still sent.
    /// This is how a source paces itself (an API polled every few seconds):
    /// never by sleeping inside `poll`.
    Idle(u32),
    /// The source is done. Records written by this call are still sent; the
    /// host is told `finished` on its next poll (or at once if there were none).
    Finished,
}

/// A plugin that makes records.
pub trait Source: Sized + 'static {
    /// Called once per instance, before anything else. An error (a config
    /// that cannot be used) stops the plugin for good: it is not restarted.
    fn init(config: Config) -> Result<Self, String>;

    /// Writes at most `max_records` records to `out` (an empty writer).
    fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String>;

    /// Where the source has got to once the records of the last `poll` are
    /// made, in its own terms. The host keeps the latest and hands it to
    /// [`Source::resume`] of the instance that takes over after a restart or
    /// a hot swap. A source without a position keeps the default (`None`)
    /// and starts afresh each time.
    fn checkpoint(&self) -> Option<Vec<u8>> {
        None
    }

    /// Called right after `init` on an instance that takes over from an
    /// earlier one: continue after `checkpoint` (a value an earlier
    /// instance returned from [`Source::checkpoint`]). An error fails `init`.
    fn resume(&mut self, checkpoint: &[u8]) -> Result<(), String> {
        let _ = checkpoint;
        Ok(())
    }

    /// Told between polls what became of the records: the newest committed
    /// checkpoint (acknowledge upstream up to here) and the records that
    /// failed since the last report, by cause.
    fn delivered(&mut self, report: &DeliveryReport) {
        let _ = report;
    }
}

/// What [`Source::delivered`] is told.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryReport {
    /// The newest checkpoint whose records, and all before them, Kafka has
    /// acknowledged (and, with the host's `[checkpoints]`, that is stored).
    pub committed: Option<Vec<u8>>,
    /// Records that will never reach their topic since the last report, by cause.
    pub failed: Vec<(String, u64)>,
}

/// A plugin that maps a batch of records to another: drop, modify, split 1:N,
/// re-key, add headers, set timestamps, or route to another allowed topic.
pub trait Transform: Sized + 'static {
    /// Called once per instance, before anything else. An error (a config
    /// that cannot be used) stops the plugin for good: it is not restarted.
    fn init(config: Config) -> Result<Self, String>;

    /// Reads `input` and writes the output records to `out` (an empty writer).
    /// Use [`BatchWriter::push`] or [`BatchWriterExt::push_with`] to pass a
    /// record through.
    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String>;
}

/// A plugin that picks the partition of each record bound for `topic`.
pub trait Partitioner: Sized + 'static {
    /// Called once per instance, before anything else. An error (a config
    /// that cannot be used) stops the plugin for good: it is not restarted.
    fn init(config: Config) -> Result<Self, String>;

    /// Returns the partition of `record`, which should be below
    /// `partition_count` (the host checks, and refuses the batch if not).
    fn partition(
        &mut self,
        topic: &str,
        partition_count: u32,
        record: &RecordRef<'_>,
    ) -> Result<u32, String>;
}

#[doc(hidden)]
pub mod __private;

// Always in the SDK's own unit tests, which test it.
#[cfg(any(test, feature = "testing"))]
pub mod testing;

include!(concat!(env!("OUT_DIR"), "/export_macros.rs"));

#[cfg(test)]
mod tests;
