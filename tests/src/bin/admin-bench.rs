//! Issue 17's figure: does scraping `/metrics` slow the records down?
//! Runs the same datagen load (3,000,000 records of 100 bytes) with
//! `[admin]` configured, alternately without scrapes and with 1,000
//! concurrent scrapers (each sends `GET /metrics` again as soon as its
//! last answer came), and compares the throughput the summary reports
//! (delivered records / elapsed seconds).
//!
//! `STREAMPLUG_TEST_BROKERS=... cargo run --release -p streamplug-tests --bin admin-bench [OUT.json]`
//! (needs `cargo build --release -p streamplug` first). Writes
//! `tests/bench-results/admin.json` by default.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use streamplug_tests::{Scratch, artifacts, brokers, read_summary, run_to_end, unique_topic};

const RECORDS: u64 = 3_000_000;
const ROUNDS: usize = 3;
const SCRAPERS: usize = 1000;

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results/admin.json")
        });
    let mut quiet = Vec::new();
    let mut scraped = Vec::new();
    let mut scrapes = Vec::new();
    for round in 0..ROUNDS {
        quiet.push(run(round, false)?.0);
        let (rate, n) = run(round, true)?;
        scraped.push(rate);
        scrapes.push(n);
        eprintln!(
            "round {round}: {:.0} rec/s without scrapes, {:.0} rec/s with {SCRAPERS} scrapers ({n} scrapes)",
            quiet[round], scraped[round]
        );
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let change = median(&scraped) / median(&quiet) - 1.0;
    let result = json!({
        "records": RECORDS,
        "scrapers": SCRAPERS,
        "records_per_second_without_scrapes": quiet,
        "records_per_second_with_scrapes": scraped,
        "scrapes_per_run": scrapes,
        "median_change": change,
        "loadavg": streamplug_tests::loadavg(),
        "machine": "2 cores shared with other work; broker on the same machine",
    });
    std::fs::write(&out, serde_json::to_string_pretty(&result)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("median change with scrapes: {:+.1}%", change * 100.0);
    Ok(())
}

/// One run: its throughput, and how many scrapes were answered.
fn run(round: usize, scrape: bool) -> Result<(f64, u64)> {
    let dir = Scratch::new(&format!("admin-bench-{round}-{scrape}"));
    let topic = unique_topic("admin-bench");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\nlinger_ms = 50\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"{topic}\"\n\
         [source.config]\ncount = {RECORDS}\ntimestamp = \"none\"\n",
        brokers(),
        artifacts::DATAGEN
    );
    let path = dir.write("config.toml", &config);
    let summary = dir.path().join("summary.json");
    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let scrapers: Vec<_> = (0..if scrape { SCRAPERS } else { 0 })
        .map(|_| {
            let (done, answered) = (done.clone(), answered.clone());
            std::thread::Builder::new()
                .stack_size(128 << 10)
                .spawn(move || scrape_until(port, &done, &answered))
        })
        .collect::<std::io::Result<_>>()?;
    let output = run_to_end(&path, &summary);
    done.store(true, Ordering::Relaxed);
    for s in scrapers {
        let _ = s.join();
    }
    anyhow::ensure!(
        output.status.success(),
        "streamplug failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let s = read_summary(&summary);
    let delivered = s["plugins"]["gen"]["delivered"]
        .as_u64()
        .context("delivered")?;
    let elapsed = s["elapsed_seconds"].as_f64().context("elapsed")?;
    Ok((delivered as f64 / elapsed, answered.load(Ordering::Relaxed)))
}

fn scrape_until(port: u16, done: &AtomicBool, answered: &AtomicU64) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}/metrics");
    while !done.load(Ordering::Relaxed) {
        match agent.get(&url).call() {
            Ok(mut r) => {
                if r.body_mut().read_to_string().is_ok() {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Not listening yet (startup), or gone (the end of the run).
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
