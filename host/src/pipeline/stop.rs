//! The shutdown signal every pipeline watches, with sleeps it cuts short,
//! its plugins' blocking waits included.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::plugin::Interrupt;

#[derive(Default)]
pub struct Stop {
    raised: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
    /// Lets go of a plugin blocked in a WASI wait when raised.
    interrupt: Arc<Interrupt>,
}

impl Stop {
    pub fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        self.interrupt.stop();
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.cv.notify_all();
    }

    /// The interrupt this stop raises, for the plugins it should reach.
    pub fn interrupt(&self) -> Arc<Interrupt> {
        self.interrupt.clone()
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
