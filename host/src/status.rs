//! Live status of `streamplug run`: while stderr is a terminal, one line
//! per source refreshed every second (records/s, delivered, failed, in
//! flight); otherwise a plain log line per source every `--status-every`
//! seconds ([`PLAIN_EVERY`] by default). `--quiet` turns both off.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::supervisor::Supervisor;

/// How often status lines are logged when stderr is not a terminal, by default.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// The status lines on the terminal, while they are shown: log lines are
/// written above them ([`above_status`]).
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Runs `write` (a log line to stderr) with the status lines out of its way.
pub fn above_status<R>(write: impl FnOnce() -> R) -> R {
    match BARS.get() {
        Some(bars) => bars.suspend(write),
        None => write(),
    }
}

pub struct LiveStatus {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LiveStatus {
    /// Starts showing the status of `supervisor`'s sources (as plain log
    /// lines every `plain_every` when stderr is not a terminal).
    pub fn start(supervisor: &Arc<Supervisor>, plain_every: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let supervisor = Arc::downgrade(supervisor);
        let terminal = std::io::stderr().is_terminal();
        let thread = std::thread::Builder::new()
            .name("live-status".into())
            .spawn(move || show(&supervisor, &flag, terminal, plain_every))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops and clears the status lines (before the summary is printed).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One source's line.
#[derive(Default)]
struct Line {
    bar: Option<ProgressBar>,
    delivered: u64,
}

fn show(supervisor: &Weak<Supervisor>, stop: &AtomicBool, terminal: bool, plain_every: Duration) {
    let bars = terminal.then(|| {
        BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
    });
    let mut lines: BTreeMap<String, Line> = BTreeMap::new();
    let mut last = Instant::now();
    let mut last_plain = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() < Duration::from_secs(1) {
            continue;
        }
        let Some(sup) = supervisor.upgrade() else {
            break;
        };
        let seconds = last.elapsed().as_secs_f64();
        last = Instant::now();
        let counters = sup.plugin_counters();
        let sources = sup.sources();
        drop(sup);
        let plain = bars.is_none() && last_plain.elapsed() >= plain_every;
        for (name, s) in &sources {
            let Some(c) = counters.get(name) else {
                continue;
            };
            let line = lines.entry(name.clone()).or_default();
            let rate = c.delivered.saturating_sub(line.delivered) as f64 / seconds;
            line.delivered = c.delivered;
            let text = format!(
                "{name:<20} {:<12} {rate:>10.0} rec/s {:>12} delivered {:>8} failed {:>8} in flight",
                s.state.label(),
                c.delivered,
                c.failed,
                s.in_flight_records
            );
            match bars {
                Some(bars) => {
                    let bar = line.bar.get_or_insert_with(|| {
                        let bar = bars.add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("{msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar
                    });
                    bar.set_message(text);
                }
                None if plain => tracing::info!("status {text}"),
                None => {}
            }
        }
        if plain {
            last_plain = Instant::now();
        }
        lines.retain(|name, line| {
            let keep = sources.contains_key(name);
            if !keep && let Some(bar) = &line.bar {
                bar.finish_and_clear();
            }
            keep
        });
    }
    for line in lines.values() {
        if let Some(bar) = &line.bar {
            bar.finish_and_clear();
        }
    }
    if let Some(bars) = bars {
        let _ = bars.clear();
    }
}
