//! `streamplug status`, `pause` and `resume`: the admin API from the
//! command line.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Where the admin server is, and the token if it asks for one.
pub struct Target {
    /// e.g. `http://127.0.0.1:9464`
    pub url: String,
    pub token: Option<String>,
}

impl Target {
    fn call(&self, method: &str, path: &str) -> Result<Value> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(150)))
            .build()
            .into();
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let result = if method == "POST" {
            let mut r = agent.post(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send_empty()
        } else {
            let mut r = agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        };
        let mut response = result.with_context(|| {
            format!("cannot reach the admin server at {url} (is `[admin]` configured and streamplug running?)")
        })?;
        let status = response.status();
        let body = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("cannot read the answer of {url}"))?;
        let value: Value = serde_json::from_str(&body)
            .with_context(|| format!("{url} answered {status} with something other than JSON"))?;
        if !status.is_success() {
            let why = value["error"].as_str().unwrap_or("no reason given");
            bail!("{url}: {status}: {why}");
        }
        Ok(value)
    }
}

/// Prints a table of plugins, their states, counters and rates (measured
/// over one second).
pub fn status(target: &Target) -> Result<()> {
    let first = target.call("GET", "/plugins")?;
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let second = target.call("GET", "/plugins")?;
    let seconds = started.elapsed().as_secs_f64();
    print!("{}", render(&first, &second, seconds));
    Ok(())
}

fn render(first: &Value, second: &Value, seconds: f64) -> String {
    use std::fmt::Write;
    let empty = Vec::new();
    let list = |v: &Value| v["plugins"].as_array().unwrap_or(&empty).clone();
    let before = list(first);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<11} {:<10} {:<11} {:>12} {:>9} {:>10} {:>9}",
        "plugin", "world", "tenant", "state", "delivered", "failed", "in flight", "rec/s"
    );
    for p in list(second) {
        let name = p["name"].as_str().unwrap_or_default();
        let count = |v: &Value, f: &str| v["counters"][f].as_u64().unwrap_or(0);
        let was = before
            .iter()
            .find(|b| b["name"] == name)
            .map_or(0, |b| count(b, "delivered"));
        let rate = (count(&p, "delivered").saturating_sub(was)) as f64 / seconds;
        let _ = writeln!(
            out,
            "{name:<20} {:<11} {:<10} {:<11} {:>12} {:>9} {:>10} {:>9.0}",
            p["world"].as_str().unwrap_or_default(),
            p["tenant"].as_str().unwrap_or("-"),
            p["state"].as_str().unwrap_or("-"),
            count(&p, "delivered"),
            count(&p, "failed"),
            p["in_flight_records"].as_u64().unwrap_or(0),
            rate
        );
    }
    out
}

/// Pauses (`pause`) or resumes (`resume`) source `name`; returns when done.
pub fn steer(target: &Target, name: &str, action: &str) -> Result<()> {
    let answer = target.call("POST", &format!("/plugins/{name}/{action}"))?;
    println!("{name}: {}", answer["state"].as_str().unwrap_or("done"));
    Ok(())
}
