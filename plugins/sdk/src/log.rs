//! Logging through the host: lines are tagged with the plugin's name.
//!
//! Use the functions, or the `format!`-style macros
//! `streamplug_sdk::info!("sent {} records", n)` (also `trace!`, `debug!`,
//! `warn!`, `error!`). Natively (unit tests) lines go to stderr and are kept
//! for [`take_native_logs`].

use std::fmt;

/// Matches the WIT `log.level` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
}

/// Sends one line to the host's log.
#[inline]
pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}

pub fn trace(message: &str) {
    log(Level::Trace, message)
}

pub fn debug(message: &str) {
    log(Level::Debug, message)
}

pub fn info(message: &str) {
    log(Level::Info, message)
}

pub fn warn(message: &str) {
    log(Level::Warn, message)
}

pub fn error(message: &str) {
    log(Level::Error, message)
}

/// Used by the macros: formats only when there are arguments.
#[doc(hidden)]
pub fn log_fmt(level: Level, args: fmt::Arguments<'_>) {
    match args.as_str() {
        Some(s) => log(level, s),
        None => log(level, &fmt::format(args)),
    }
}

/// Lines logged so far on this thread, oldest first (native builds only,
/// for unit tests of plugin logic).
#[cfg(not(target_arch = "wasm32"))]
pub fn take_native_logs() -> Vec<(Level, String)> {
    imp::CAPTURED.with_borrow_mut(std::mem::take)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;

    // The canonical ABI lowering of `log: func(level: level, message: string)`
    // from the `streamplug:plugin/log` import every world has. The plugin's
    // generated bindings describe this import in its component type. The
    // version is the WIT package's (a test checks they agree).
    #[link(wasm_import_module = "streamplug:plugin/log@0.2.0")]
    unsafe extern "C" {
        #[link_name = "log"]
        fn host_log(level: i32, message: *const u8, message_len: usize);
    }

    #[inline]
    pub fn log(level: Level, message: &str) {
        // SAFETY: the pointer and length describe a live UTF-8 string; the
        // host copies it before returning.
        unsafe { host_log(level as i32, message.as_ptr(), message.len()) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;
    use std::cell::RefCell;

    std::thread_local! {
        pub static CAPTURED: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    }

    pub fn log(level: Level, message: &str) {
        eprintln!("[{level:?}] {message}");
        CAPTURED.with_borrow_mut(|c| c.push((level, message.to_owned())));
    }
}

/// Logs at level trace: `streamplug_sdk::trace!("x = {}", x)`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::log::log_fmt($crate::log::Level::Trace, ::core::format_args!($($arg)+))
    };
}

/// Logs at level debug: `streamplug_sdk::debug!("x = {}", x)`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log::log_fmt($crate::log::Level::Debug, ::core::format_args!($($arg)+))
    };
}

/// Logs at level info: `streamplug_sdk::info!("x = {}", x)`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log::log_fmt($crate::log::Level::Info, ::core::format_args!($($arg)+))
    };
}

/// Logs at level warn: `streamplug_sdk::warn!("x = {}", x)`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log::log_fmt($crate::log::Level::Warn, ::core::format_args!($($arg)+))
    };
}

/// Logs at level error: `streamplug_sdk::error!("x = {}", x)`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log::log_fmt($crate::log::Level::Error, ::core::format_args!($($arg)+))
    };
}
