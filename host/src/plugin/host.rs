//! What a plugin instance can reach: the `log` import, WASI clocks and
//! random, and what its `capabilities` grant (read-only directories, named
//! environment variables). Also its memory cap and where its stdout and
//! stderr go.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::bindings::{v0_1, v0_2};
use super::interrupt::Interrupt;
use super::interrupt::WaitBounds;
use super::logs::{MAX_LINE, PluginLog};
use crate::config::Capabilities;
use crate::format::registry::SchemaRegistry;

/// The store data of one plugin instance.
pub struct HostState {
    /// Tags and rate-limits what the plugin logs; shared by its instances.
    log: Arc<PluginLog>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// The plugin's last few stderr lines: a panic message lands there just
    /// before the trap, so a failure can name its cause.
    pub(crate) recent_stderr: Arc<Mutex<VecDeque<String>>>,
    /// When the call in progress must end, for waits epochs cannot reach.
    pub(crate) call_deadline: Option<Instant>,
    /// Lets a blocked wait go (stop, drain, swap).
    pub(crate) interrupt: Arc<Interrupt>,
    /// `[schema_registry]`, for the `schema-registry` import.
    pub(crate) registry: Option<Arc<SchemaRegistry>>,
}

/// Host resources (streams, sockets, open files, pollables) one instance may
/// hold at once. Each socket and open file is a host file descriptor, so
/// without a cap a plugin could exhaust the descriptors the producer needs.
pub(crate) const MAX_HOST_RESOURCES: usize = 256;

impl HostState {
    /// Fails only if a granted directory cannot be opened (the config check
    /// at startup makes that rare: it was removed or its permissions changed).
    pub fn new(
        log: Arc<PluginLog>,
        memory_cap: usize,
        capabilities: &Capabilities,
    ) -> Result<Self, String> {
        let plugin = log.plugin().clone();
        let recent_stderr = Arc::new(Mutex::new(VecDeque::new()));
        let mut wasi = WasiCtx::builder();
        // The builder grants nothing by default (no env, args, preopens or
        // name lookup); what a plugin gets beyond clocks and random is added
        // below from its capabilities.
        wasi.stdout(LogStream::new(log.clone(), "stdout", None))
            .stderr(LogStream::new(
                log.clone(),
                "stderr",
                Some(recent_stderr.clone()),
            ))
            // TCP and UDP are switched on only so that every address a plugin
            // uses reaches `deny_socket_addr` and is logged; switched off,
            // sockets fail inside WASI and the attempt is invisible.
            .allow_tcp(true)
            .allow_udp(true)
            .socket_addr_check({
                let log = Arc::new(DenialLog::new(plugin.clone()));
                move |addr, use_| {
                    let allowed = deny_socket_addr(&log, addr, use_);
                    Box::pin(async move { allowed })
                }
            })
            // No hook exists for name lookups: denied silently.
            .allow_ip_name_lookup(false);
        for dir in &capabilities.read_dirs {
            let guest_path = dir.to_str().ok_or_else(|| {
                format!(
                    "capabilities.read_dirs: {} is not valid UTF-8",
                    dir.display()
                )
            })?;
            wasi.preopened_dir(dir, guest_path, FsPerms::ReadOnly)
                .map_err(|e| {
                    format!(
                        "capabilities.read_dirs: cannot open {}: {e:#}",
                        dir.display()
                    )
                })?;
        }
        for name in &capabilities.env {
            match std::env::var(name) {
                Ok(value) => {
                    wasi.env(name, value);
                }
                Err(std::env::VarError::NotPresent) => tracing::warn!(
                    plugin = &*plugin,
                    "granted environment variable {name} is not set; the plugin will not see it"
                ),
                Err(std::env::VarError::NotUnicode(_)) => tracing::warn!(
                    plugin = &*plugin,
                    "granted environment variable {name} is not valid UTF-8; the plugin will not see it"
                ),
            }
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HOST_RESOURCES);
        Ok(Self {
            log,
            wasi: wasi.build(),
            table,
            limiter: MemoryLimiter {
                cap: memory_cap,
                denied: None,
                peak: 0,
                held: 0,
                usage: Arc::default(),
            },
            recent_stderr,
            call_deadline: None,
            interrupt: Arc::default(),
            registry: None,
        })
    }

    /// What bounds a blocking wait now, and the table its pollables are in.
    pub(crate) fn waits(&mut self) -> (WaitBounds, &mut ResourceTable) {
        let bounds = WaitBounds {
            deadline: self.call_deadline,
            interrupt: self.interrupt.clone(),
        };
        (bounds, &mut self.table)
    }
}

/// The socket policy: there is no network capability to grant, so every
/// address is refused (the guest sees `access-denied`) and the attempt is
/// logged.
///
/// The one exception is the wildcard, any-port bind that WASI checks before
/// an unbound socket connects or sends: refusing it would end the attempt
/// before the real destination is known, so the log could not name it. It
/// reaches nothing by itself: connecting, listening, sending and receiving
/// are each checked again and refused.
fn deny_socket_addr(log: &DenialLog, addr: SocketAddr, use_: SocketAddrUse) -> bool {
    let wildcard_bind = matches!(use_, SocketAddrUse::TcpBind | SocketAddrUse::UdpBind)
        && addr.ip().is_unspecified()
        && addr.port() == 0;
    if wildcard_bind {
        return true;
    }
    // Checked for each datagram that arrives at a bound socket: logging it
    // would let anyone on the network fill the log. Dropped silently.
    if matches!(use_, SocketAddrUse::UdpReceive) {
        return false;
    }
    let what = match use_ {
        SocketAddrUse::TcpConnect => "connect to",
        SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => "bind",
        SocketAddrUse::TcpListen => "listen on",
        SocketAddrUse::TcpAccept => "accept a connection from",
        SocketAddrUse::UdpSend => "send to",
        SocketAddrUse::UdpReceive => "receive from",
    };
    log.denied(&format!(
        "plugin tried to {what} {addr}: denied (no network capability)"
    ));
    false
}

/// Logs denied attempts without letting a plugin that retries in a loop
/// flood the log: the first few are logged as they happen, later ones as a
/// count at most once per interval.
struct DenialLog {
    plugin: Arc<str>,
    state: Mutex<DenialState>,
}

struct DenialState {
    logged: u32,
    last_line: Instant,
    unlogged: u64,
}

impl DenialLog {
    const LOGGED_IN_FULL: u32 = 5;
    const INTERVAL: Duration = Duration::from_secs(10);

    fn new(plugin: Arc<str>) -> Self {
        Self {
            plugin,
            state: Mutex::new(DenialState {
                logged: 0,
                last_line: Instant::now(),
                unlogged: 0,
            }),
        }
    }

    fn denied(&self, what: &str) {
        let plugin = &*self.plugin;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.logged < Self::LOGGED_IN_FULL {
            s.logged += 1;
            s.last_line = Instant::now();
            tracing::warn!(plugin, "{what}");
            if s.logged == Self::LOGGED_IN_FULL {
                tracing::warn!(
                    plugin,
                    "further denied attempts are counted, and logged at most every {} s",
                    Self::INTERVAL.as_secs()
                );
            }
            return;
        }
        s.unlogged += 1;
        if s.last_line.elapsed() >= Self::INTERVAL {
            tracing::warn!(
                plugin,
                "{} more denied attempts; the latest: {what}",
                s.unlogged
            );
            s.unlogged = 0;
            s.last_line = Instant::now();
        }
    }
}

impl HostState {
    pub fn plugin_name(&self) -> Arc<str> {
        self.log.plugin().clone()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl v0_2::log::Host for HostState {
    fn log(&mut self, level: v0_2::log::Level, message: String) {
        use v0_2::log::Level;
        let level = match level {
            Level::Trace => tracing::Level::TRACE,
            Level::Debug => tracing::Level::DEBUG,
            Level::Info => tracing::Level::INFO,
            Level::Warn => tracing::Level::WARN,
            Level::Error => tracing::Level::ERROR,
        };
        self.log.line(level, None, &message);
    }
}

impl v0_1::log::Host for HostState {
    fn log(&mut self, level: v0_1::log::Level, message: String) {
        use v0_1::log::Level as Old;
        use v0_2::log::Level;
        let level = match level {
            Old::Trace => Level::Trace,
            Old::Debug => Level::Debug,
            Old::Info => Level::Info,
            Old::Warn => Level::Warn,
            Old::Error => Level::Error,
        };
        v0_2::log::Host::log(self, level, message);
    }
}

/// Caps linear memory growth and remembers a refusal, so that the trap a
/// guest raises when its allocator fails can be reported as what it is.
pub struct MemoryLimiter {
    pub cap: usize,
    pub denied: Option<usize>,
    /// The largest linear memory granted so far (`streamplug test` reports it).
    pub peak: usize,
    /// Linear memory this instance holds now (all its memories), added to
    /// `usage` as it grows and taken off when the instance is dropped.
    held: usize,
    pub usage: Arc<super::Usage>,
}

impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        self.usage.released(self.held);
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.denied = Some(desired);
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        // Also called when a memory is created (`current` 0).
        let grown = desired.saturating_sub(current);
        self.held += grown;
        self.usage.grew(grown);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// A plugin's stdout or stderr, turned into log lines tagged with its name,
/// within the plugin's budget of lines (see [`PluginLog`]). A line is kept
/// to [`MAX_LINE`] bytes as it is assembled, so a plugin that never writes a
/// newline cannot grow it further. Never blocks and never fails, so printing cannot trap the plugin.
#[derive(Clone)]
struct LogStream {
    inner: Arc<Mutex<LineBuffer>>,
}

struct LineBuffer {
    log: Arc<PluginLog>,
    stream: &'static str,
    line: Vec<u8>,
    recent: Option<Arc<Mutex<VecDeque<String>>>>,
}

/// Stderr lines kept for failure reports.
const RECENT_LINES: usize = 4;

impl LogStream {
    fn new(
        log: Arc<PluginLog>,
        stream: &'static str,
        recent: Option<Arc<Mutex<VecDeque<String>>>>,
    ) -> Self {
        let buf = LineBuffer {
            log,
            stream,
            line: Vec::new(),
            recent,
        };
        Self {
            inner: Arc::new(Mutex::new(buf)),
        }
    }

    fn write(&self, bytes: &[u8]) {
        let mut b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for chunk in bytes.split_inclusive(|&c| c == b'\n') {
            let room = MAX_LINE.saturating_sub(b.line.len());
            let (text, ends_line) = match chunk.strip_suffix(b"\n") {
                Some(t) => (t, true),
                None => (chunk, false),
            };
            b.line.extend_from_slice(&text[..text.len().min(room)]);
            if ends_line {
                b.emit();
            }
        }
    }
}

impl LineBuffer {
    fn emit(&mut self) {
        let line = String::from_utf8_lossy(&self.line).trim_end().to_string();
        self.line.clear();
        if line.is_empty() {
            return;
        }
        if let Some(recent) = &self.recent {
            let mut r = recent.lock().unwrap_or_else(|e| e.into_inner());
            if r.len() == RECENT_LINES {
                r.pop_front();
            }
            r.push_back(line.clone());
        }
        self.log
            .line(tracing::Level::INFO, Some(self.stream), &line);
    }
}

impl wasmtime_wasi::cli::IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl wasmtime_wasi::p2::Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl wasmtime_wasi::p2::OutputStream for LogStream {
    fn write(&mut self, bytes: bytes::Bytes) -> wasmtime_wasi::p2::StreamResult<()> {
        LogStream::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> wasmtime_wasi::p2::StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> wasmtime_wasi::p2::StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        LogStream::write(&self, buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
