//! The shutdown signal every pipeline watches, with sleeps it cuts short.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Stop {
    raised: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Stop {
    pub fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.cv.notify_all();
    }

    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// Sleeps for `d` or until raised; true if raised.
    pub fn sleep(&self, d: Duration) -> bool {
        let g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_raised() {
            return true;
        }
        let _ = self.cv.wait_timeout_while(g, d, |_| !self.is_raised());
        self.is_raised()
    }
}
