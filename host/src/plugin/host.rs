//! What a plugin instance can reach: the `log` import, WASI clocks and
//! random, and nothing else. Also its memory cap and where its stdout and
//! stderr go.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::log::{self, Level};
use crate::config::Capabilities;

/// The store data of one plugin instance.
pub struct HostState {
    plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// The plugin's last few stderr lines: a panic message lands there just
    /// before the trap, so a failure can name its cause.
    pub(crate) recent_stderr: Arc<Mutex<VecDeque<String>>>,
}

impl HostState {
    pub fn new(plugin: Arc<str>, memory_cap: usize, capabilities: &Capabilities) -> Self {
        // Grants are applied by the capabilities work in progress; none yet.
        let _ = capabilities;
        let recent_stderr = Arc::new(Mutex::new(VecDeque::new()));
        let mut wasi = WasiCtx::builder();
        // The builder grants nothing by default (no env, args, preopens,
        // sockets or name lookup): clocks and random are all a plugin gets.
        wasi.stdout(LogStream::new(plugin.clone(), "stdout", None))
            .stderr(LogStream::new(
                plugin.clone(),
                "stderr",
                Some(recent_stderr.clone()),
            ))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        Self {
            plugin,
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                cap: memory_cap,
                denied: None,
            },
            recent_stderr,
        }
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

impl log::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// Caps linear memory growth and remembers a refusal, so that the trap a
/// guest raises when its allocator fails can be reported as what it is.
pub struct MemoryLimiter {
    pub cap: usize,
    pub denied: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.denied = Some(desired);
            return Ok(false);
        }
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

/// Lines a plugin may print per second before the rest are dropped.
const LINES_PER_SECOND: u32 = 100;
/// Longest line kept; a plugin that never writes a newline cannot grow it further.
const MAX_LINE: usize = 4096;

/// A plugin's stdout or stderr, turned into log lines tagged with its name.
/// Never blocks and never fails, so printing cannot trap the plugin.
#[derive(Clone)]
struct LogStream {
    inner: Arc<Mutex<LineBuffer>>,
}

struct LineBuffer {
    plugin: Arc<str>,
    stream: &'static str,
    line: Vec<u8>,
    window: Instant,
    lines_in_window: u32,
    dropped: u64,
    recent: Option<Arc<Mutex<VecDeque<String>>>>,
}

/// Stderr lines kept for failure reports.
const RECENT_LINES: usize = 4;

impl LogStream {
    fn new(
        plugin: Arc<str>,
        stream: &'static str,
        recent: Option<Arc<Mutex<VecDeque<String>>>>,
    ) -> Self {
        let buf = LineBuffer {
            plugin,
            stream,
            line: Vec::new(),
            window: Instant::now(),
            lines_in_window: 0,
            dropped: 0,
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
        if self.window.elapsed() >= Duration::from_secs(1) {
            if self.dropped > 0 {
                tracing::warn!(
                    plugin = &*self.plugin,
                    "dropped {} {} lines (over {LINES_PER_SECOND}/s)",
                    self.dropped,
                    self.stream
                );
            }
            self.window = Instant::now();
            self.lines_in_window = 0;
            self.dropped = 0;
        }
        if self.lines_in_window >= LINES_PER_SECOND {
            self.dropped += 1;
            return;
        }
        self.lines_in_window += 1;
        tracing::info!(plugin = &*self.plugin, stream = self.stream, "{line}");
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
