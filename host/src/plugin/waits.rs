//! WASI's blocking waits, bounded. A plugin that sleeps (`std::thread::sleep`
//! is a monotonic-clock pollable and a `block` on it) or polls is waiting in
//! the host, where the epoch deadline that limits every call cannot reach
//! it. So `wasi:io/poll`'s `poll` and `pollable.block` are replaced by
//! versions that also end when the call's deadline passes (the call then
//! fails as over its time limit, like a long computation) or the plugin's
//! [`Interrupt`] is raised (the call is let go, to stop or swap).

use std::future::Future;

use anyhow::{Result, anyhow};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};

use super::host::HostState;
use super::interrupt::{Reason, WaitBounds};

/// The `wasi:io/poll` that `wasmtime_wasi::p2::add_to_linker_sync` links
/// (older minor versions a plugin imports resolve to it).
const POLL_INTERFACE: &str = "wasi:io/poll@0.2.12";

/// Why a blocking wait ended without its pollables being ready: the
/// error a plugin's call fails with.
#[derive(Debug, thiserror::Error)]
pub enum WaitEnded {
    #[error(
        "the call's time limit passed while the plugin was blocked in a WASI wait (a sleep or poll)"
    )]
    Deadline,
    #[error("the plugin was blocked in a WASI wait (a sleep or poll) and was let go: {}", what(*.0))]
    Interrupted(Reason),
}

fn what(reason: Reason) -> &'static str {
    match reason {
        Reason::Stopping => "its pipeline is stopping",
        Reason::Swapping => "a new version is taking over",
    }
}

/// Replaces the blocking `poll` and `pollable.block` linked by wasmtime-wasi.
pub fn shadow_blocking_waits(linker: &mut Linker<HostState>) -> Result<()> {
    linker.allow_shadowing(true);
    let mut poll = linker
        .instance(POLL_INTERFACE)
        .map_err(|e| anyhow!("cannot reopen {POLL_INTERFACE}: {e:#}"))?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, HostState>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let (bounds, table) = store.data_mut().waits();
            bounded(bounds, table.poll(pollables)).map(|ready| (ready,))
        },
    )
    .map_err(|e| anyhow!("cannot link {POLL_INTERFACE}#poll: {e:#}"))?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, HostState>, (pollable,): (Resource<DynPollable>,)| {
            let (bounds, table) = store.data_mut().waits();
            bounded(bounds, table.block(pollable))
        },
    )
    .map_err(|e| anyhow!("cannot link {POLL_INTERFACE}#[method]pollable.block: {e:#}"))?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Waits for `wait`, the call's deadline or the interrupt, whichever first.
fn bounded<R>(
    bounds: WaitBounds,
    wait: impl Future<Output = wasmtime::Result<R>>,
) -> wasmtime::Result<R> {
    wasmtime_wasi::runtime::in_tokio(async move {
        let deadline = async {
            match bounds.deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            reason = bounds.interrupt.raised() => Err(wasmtime::Error::new(WaitEnded::Interrupted(reason))),
            () = deadline => Err(wasmtime::Error::new(WaitEnded::Deadline)),
            done = wait => done,
        }
    })
}
