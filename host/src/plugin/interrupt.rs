//! Ends a plugin's blocking host calls early. Epochs only reach a plugin
//! while it runs WebAssembly; one blocked in WASI (a sleep, a poll) is
//! waiting in the host, so the host must let that wait go itself (see
//! `waits.rs`): when its pipeline stops or drains, or a new version of one of
//! its plugins waits to take over.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

/// Why a blocked call was let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Stopping,
    Swapping,
}

#[derive(Default)]
pub struct Interrupt {
    /// For good: the pipeline is stopping.
    stopping: AtomicBool,
    /// Swaps asked for so far. A swap lets go only of the waits under way
    /// when it is asked for: a plugin called again before the batch boundary
    /// (a transform retrying its batch) must not be let go in a loop.
    swaps: AtomicU64,
    notify: Notify,
}

impl Interrupt {
    /// The pipeline is stopping: every blocked call ends now, and every
    /// later one at once.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// A new version is waiting for the batch boundary: a call blocked now
    /// ends, so that the boundary comes.
    pub fn swap_waiting(&self) {
        self.swaps.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Resolves once stopping, or a swap is asked for after this was called.
    pub async fn raised(&self) -> Reason {
        let swaps = self.swaps.load(Ordering::SeqCst);
        loop {
            // Registered before the flags are read, so a raise in between
            // is not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_stopping() {
                return Reason::Stopping;
            }
            if self.swaps.load(Ordering::SeqCst) != swaps {
                return Reason::Swapping;
            }
            notified.await;
        }
    }
}

/// What bounds the blocking waits of the call in progress (see `waits`).
pub struct WaitBounds {
    pub deadline: Option<std::time::Instant>,
    pub interrupt: std::sync::Arc<Interrupt>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_swap_lets_go_of_the_waits_under_way_and_a_stop_of_all() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let i = Arc::new(Interrupt::default());
        let raiser = i.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            raiser.swap_waiting();
        });
        assert_eq!(rt.block_on(i.raised()), Reason::Swapping);
        // A wait begun after the swap was asked for is not let go by it.
        let later = rt
            .block_on(async { tokio::time::timeout(Duration::from_millis(50), i.raised()).await });
        assert!(later.is_err(), "a past swap lets go of a new wait");
        i.stop();
        assert_eq!(rt.block_on(i.raised()), Reason::Stopping);
        assert_eq!(rt.block_on(i.raised()), Reason::Stopping);
    }
}
