//! What a plugin writes to the host's log: lines from its `log` import, its
//! stdout and its stderr. All three share one budget of lines per second per
//! plugin (across its instances and restarts), so a plugin that logs in a
//! loop cannot fill an edge device's disk; the lines over the budget are
//! counted, and the count is logged once per second while it grows.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tracing::Level;

/// Lines a plugin may write per second, on all its streams together, before
/// the rest are dropped.
pub const LINES_PER_SECOND: u32 = 100;
/// Longest line kept, in bytes; the rest of a longer line is cut.
pub const MAX_LINE: usize = 4096;

/// One plugin's lines in the host's log: its name and tenant, which tag
/// every line, and its rate limit.
pub struct PluginLog {
    plugin: std::sync::Arc<str>,
    tenant: Option<std::sync::Arc<str>>,
    window: Mutex<Window>,
    /// Lines dropped since the plugin started (for the summary and metrics).
    dropped: AtomicU64,
}

struct Window {
    started: Instant,
    lines: u32,
    /// Lines dropped in this window: logged when the next one begins.
    dropped: u64,
}

impl Default for PluginLog {
    fn default() -> Self {
        Self::new("", None)
    }
}

impl PluginLog {
    pub fn new(plugin: &str, tenant: Option<&str>) -> Self {
        Self {
            plugin: plugin.into(),
            tenant: tenant.map(Into::into),
            window: Mutex::new(Window {
                started: Instant::now(),
                lines: 0,
                dropped: 0,
            }),
            dropped: AtomicU64::new(0),
        }
    }

    pub fn plugin(&self) -> &std::sync::Arc<str> {
        &self.plugin
    }

    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Lines dropped so far, over the rate limit.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    /// Writes one line at `level` if the budget allows; `stream` names
    /// stdout or stderr (none for the `log` import). Lines at a level the
    /// log filter leaves out cost nothing and use no budget.
    pub fn line(&self, level: Level, stream: Option<&'static str>, text: &str) {
        if !level_enabled(level) || !self.admit() {
            return;
        }
        let text = clean(text);
        let (plugin, tenant) = (&*self.plugin, self.tenant());
        match level {
            Level::TRACE => tracing::trace!(plugin, tenant, stream, "{text}"),
            Level::DEBUG => tracing::debug!(plugin, tenant, stream, "{text}"),
            Level::INFO => tracing::info!(plugin, tenant, stream, "{text}"),
            Level::WARN => tracing::warn!(plugin, tenant, stream, "{text}"),
            Level::ERROR => tracing::error!(plugin, tenant, stream, "{text}"),
        }
    }

    /// Logs the drops of the current window that no later line has reported
    /// yet. Called when the run ends: a plugin that floods its log for less
    /// than a second and then stops would otherwise never see its drops in
    /// the log, only in the summary.
    pub fn flush(&self) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        self.report(&mut w);
    }

    fn report(&self, w: &mut Window) {
        if w.dropped > 0 {
            tracing::warn!(
                plugin = &*self.plugin,
                tenant = self.tenant(),
                "plugin {}: {} log lines dropped (over {LINES_PER_SECOND} lines/s)",
                self.plugin,
                w.dropped
            );
            w.dropped = 0;
        }
    }

    /// Whether one more line fits this second's budget; counts it as
    /// dropped if not, and logs the last window's drops when a new one begins.
    fn admit(&self) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if w.started.elapsed() >= Duration::from_secs(1) {
            self.report(&mut w);
            *w = Window {
                started: Instant::now(),
                lines: 0,
                dropped: 0,
            };
        }
        if w.lines >= LINES_PER_SECOND {
            w.dropped += 1;
            self.dropped.fetch_add(1, Relaxed);
            return false;
        }
        w.lines += 1;
        true
    }
}

fn level_enabled(level: Level) -> bool {
    match level {
        Level::TRACE => tracing::enabled!(Level::TRACE),
        Level::DEBUG => tracing::enabled!(Level::DEBUG),
        Level::INFO => tracing::enabled!(Level::INFO),
        Level::WARN => tracing::enabled!(Level::WARN),
        Level::ERROR => tracing::enabled!(Level::ERROR),
    }
}

/// The line as written: at most [`MAX_LINE`] bytes (cut at a character
/// boundary, saying how much was cut), and control characters escaped, so
/// that one call is one line of the host's log and a plugin can neither
/// forge host lines with a newline nor send terminal escape sequences.
fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    let text = text.trim_end();
    let mut end = text.len().min(MAX_LINE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let kept = &text[..end];
    let escaped = if kept.chars().any(char::is_control) {
        std::borrow::Cow::Owned(
            kept.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(kept)
    };
    if end == text.len() {
        escaped
    } else {
        std::borrow::Cow::Owned(format!("{escaped}… [{} more bytes cut]", text.len() - end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_capped_at_a_character_boundary_and_say_what_was_cut() {
        let long = "é".repeat(MAX_LINE); // 2 bytes each
        let line = clean(&long);
        let (kept, note) = line.split_once('…').unwrap();
        assert_eq!(kept.len(), MAX_LINE);
        assert_eq!(note, format!(" [{} more bytes cut]", MAX_LINE));
        assert_eq!(clean("short"), "short");
    }

    #[test]
    fn control_characters_cannot_start_a_new_line() {
        assert_eq!(
            clean("a\nERROR forged\x1b[31m\tx\n"),
            "a\\nERROR forged\\u{1b}[31m\\tx"
        );
    }

    #[test]
    fn the_budget_is_shared_and_drops_are_counted() {
        let log = PluginLog::new("p", Some("t"));
        let admitted = (0..LINES_PER_SECOND + 50).filter(|_| log.admit()).count();
        assert_eq!(admitted, LINES_PER_SECOND as usize);
        assert_eq!(log.dropped(), 50);
    }
}
