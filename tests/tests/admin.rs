//! The admin server (`[admin]`) of a running host, against the real broker:
//! `/metrics` during a run under load and at its end equals the summary and
//! passes `promtool check metrics`; pausing a source stops its records
//! while another flows, and resuming it continues its sequence with no gap
//! or duplicate; a non-loopback address needs a token, and a request
//! without it gets 401; malformed requests get a 4xx with a JSON error.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use streamplug_tests::{
    Consumed, Scratch, artifacts, brokers, consume_all, read_summary, sigterm, spawn_run,
    unique_topic, wait_for_log, wait_with_limit,
};

/// A port nobody listens on now (the kernel's pick; released for the host).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// Kills the host if the test panics before it ends the run itself.
struct Host(Option<Child>);

impl Host {
    fn stop(mut self) {
        let mut child = self.0.take().expect("host");
        sigterm(&child);
        let status = wait_with_limit(&mut child, Duration::from_secs(60));
        assert!(status.success(), "streamplug exited with {status}");
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }

    /// A 4xx whose body is `{"error": "..."}`.
    fn assert_json_error(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.json()["error"].as_str().is_some_and(|e| !e.is_empty()),
            "no error message: {}",
            self.body
        );
    }
}

fn http(method: &str, url: &str, token: Option<&str>) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let auth = token.map(|t| format!("Bearer {t}"));
    let result = match method {
        "GET" => {
            let mut r = agent.get(url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        "POST" => {
            let mut r = agent.post(url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send_empty()
        }
        "DELETE" => {
            let mut r = agent.delete(url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        other => panic!("method {other}"),
    };
    let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("{method} {url}: body: {e}"));
    Answer { status, body }
}

/// The samples of an exposition: `name{labels}` -> value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

fn promtool_check(exposition: &str) {
    let promtool = std::env::var("STREAMPLUG_PROMTOOL").unwrap_or_else(|_| {
        let out = std::process::Command::new(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/promtool.sh"),
        )
        .output()
        .expect("tests/tools/promtool.sh");
        assert!(out.status.success(), "tests/tools/promtool.sh failed");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    });
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {promtool}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{exposition}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn seqs(topic: &str) -> Vec<u64> {
    let mut s: Vec<u64> = consume_all(&brokers(), topic, Duration::from_millis(300))
        .expect("consume")
        .iter()
        .map(Consumed::seq)
        .collect();
    s.sort_unstable();
    s
}

fn datagen(name: &str, tenant: &str, topic: &str, extra: &str) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\ntenant = \"{tenant}\"\nwasm = \"{}\"\ntopic = \"{topic}\"\n\
         batch_size = 100\n[source.config]\n{extra}\n",
        artifacts::DATAGEN
    )
}

fn start(dir: &Scratch, config: &str) -> Host {
    let path = dir.write("config.toml", config);
    let child = spawn_run(&path, &dir.path().join("summary.json"), dir.path());
    let host = Host(Some(child));
    wait_for_log(dir.path(), "streamplug: running");
    host
}

/// Per-plugin counters in the summary and their metric names.
const COUNTERS: &[(&str, &str)] = &[
    ("records_in", "streamplug_records_in_total"),
    ("records_out", "streamplug_records_out_total"),
    ("dropped", "streamplug_records_dropped_total"),
    ("produced", "streamplug_records_produced_total"),
    ("delivered", "streamplug_records_delivered_total"),
    ("failed", "streamplug_records_failed_total"),
    ("bytes", "streamplug_delivered_bytes_total"),
    ("restarts", "streamplug_plugin_restarts_total"),
    ("errors", "streamplug_plugin_errors_total"),
    ("log_lines_dropped", "streamplug_log_lines_dropped_total"),
    ("dead_lettered", "streamplug_records_dead_lettered_total"),
    ("transactions", "streamplug_transactions_committed_total"),
    ("aborted", "streamplug_records_aborted_total"),
];

fn series(metric: &str, plugin: &str, tenant: &str) -> String {
    format!("{metric}{{plugin=\"{plugin}\",world=\"source\",tenant=\"{tenant}\"}}")
}

#[test]
fn metrics_during_a_run_and_at_its_end_equal_the_summary_and_pass_promtool() {
    let dir = Scratch::new("admin-metrics");
    let (fast_topic, held_topic) = (unique_topic("admin-fast"), unique_topic("admin-held"));
    let port = free_port();
    let fast = 20_000;
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [[tenant]]\nname = \"acme\"\ntopics = [\"{fast_topic}\"]\n\
         [[tenant]]\nname = \"globex\"\ntopics = [\"{held_topic}\"]\n{}{}",
        brokers(),
        datagen(
            "fast",
            "acme",
            &fast_topic,
            &format!("count = {fast}\nrate = 8000")
        ),
        datagen("held", "globex", &held_topic, "rate = 3000"),
    );
    let host = start(&dir, &config);
    let base = format!("http://127.0.0.1:{port}");

    // Under load: counters grow between scrapes, and every scrape is valid.
    let mut last = 0.0;
    let mut scrapes = 0;
    wait_until("two scrapes under load", Duration::from_secs(30), || {
        let a = http("GET", &format!("{base}/metrics"), None);
        assert_eq!(a.status, 200, "{}", a.body);
        promtool_check(&a.body);
        let s = samples(&a.body);
        let key = series("streamplug_records_delivered_total", "fast", "acme");
        let delivered = *s
            .get(&key)
            .unwrap_or_else(|| panic!("no {key} in\n{}", a.body));
        assert!(
            delivered >= last,
            "a counter went down: {last} -> {delivered}"
        );
        if delivered > last && delivered < fast as f64 {
            scrapes += 1;
        }
        last = delivered;
        scrapes >= 2
    });

    // A quiet end: `held` paused (its records in flight delivered), `fast`
    // finished; nothing changes any more, so the last scrape must equal
    // the summary written at exit.
    let a = http("POST", &format!("{base}/plugins/held/pause"), None);
    assert_eq!(a.status, 200, "{}", a.body);
    wait_until("fast finished", Duration::from_secs(60), || {
        http("GET", &format!("{base}/plugins/fast"), None).json()["state"] == "finished"
    });
    // The last records' delivery reports may still arrive after `fast`
    // reads as finished: the end is when two scrapes agree on every counter.
    let counters = |text: &str| -> Vec<Option<f64>> {
        let s = samples(text);
        [("fast", "acme"), ("held", "globex")]
            .iter()
            .flat_map(|(p, t)| {
                COUNTERS
                    .iter()
                    .map(|(_, m)| s.get(&series(m, p, t)).copied())
            })
            .collect()
    };
    let mut previous = counters(&http("GET", &format!("{base}/metrics"), None).body);
    let mut end_text = String::new();
    wait_until("counters settle", Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(500));
        end_text = http("GET", &format!("{base}/metrics"), None).body;
        let now = counters(&end_text);
        std::mem::replace(&mut previous, now) == previous
    });
    promtool_check(&end_text);
    let end = samples(&end_text);
    host.stop();
    let summary = read_summary(&dir.path().join("summary.json"));

    for (plugin, tenant) in [("fast", "acme"), ("held", "globex")] {
        for (field, metric) in COUNTERS {
            let want = summary["plugins"][plugin][field]
                .as_u64()
                .unwrap_or_else(|| panic!("summary has no {plugin}.{field}"));
            let got = end.get(&series(metric, plugin, tenant));
            assert_eq!(got, Some(&(want as f64)), "{metric} of {plugin}");
        }
    }
    assert_eq!(
        end[&series("streamplug_records_delivered_total", "fast", "acme")],
        fast as f64
    );
    for (tenant, plugin) in [("acme", "fast"), ("globex", "held")] {
        let want = summary["plugins"][plugin]["delivered"].as_u64().unwrap() as f64;
        let got = end[&format!("streamplug_tenant_records_delivered_total{{tenant=\"{tenant}\"}}")];
        assert_eq!(got, want, "tenant {tenant}");
    }
    // Delivery latency: every delivered record of a source is in its
    // histogram, as in the summary.
    for (plugin, tenant) in [("fast", "acme"), ("held", "globex")] {
        let buckets = summary["plugins"][plugin]["latency"]["buckets"]
            .as_array()
            .expect("latency buckets");
        let count: u64 = buckets.iter().map(|b| b.as_u64().unwrap()).sum();
        assert_eq!(
            count,
            summary["plugins"][plugin]["delivered"].as_u64().unwrap()
        );
        let labels = format!("plugin=\"{plugin}\",world=\"source\",tenant=\"{tenant}\"");
        assert_eq!(
            end[&format!("streamplug_delivery_latency_seconds_count{{{labels}}}")],
            count as f64
        );
        assert_eq!(
            end[&format!("streamplug_delivery_latency_seconds_bucket{{{labels},le=\"+Inf\"}}")],
            count as f64
        );
    }

    // librdkafka's statistics of the shared producer, sampled every second.
    assert!(end["streamplug_kafka_requests_total"] > 0.0);
    assert!(end.contains_key("streamplug_kafka_queue_records"));
    let rtt: Vec<f64> = end
        .iter()
        .filter(|(k, _)| k.starts_with("streamplug_kafka_broker_rtt_seconds{broker="))
        .map(|(_, v)| *v)
        .collect();
    assert!(
        !rtt.is_empty() && rtt.iter().all(|r| *r >= 0.0 && *r < 10.0),
        "{rtt:?}"
    );
    let batch = end[&format!("streamplug_kafka_batch_records{{topic=\"{held_topic}\"}}")];
    assert!(batch >= 0.0);
    let build = end
        .keys()
        .find(|k| k.starts_with("streamplug_build_info{"))
        .expect("build info");
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{build}"
    );
}

#[test]
fn a_paused_source_stops_while_another_flows_and_resumes_without_gap_or_duplicate() {
    let dir = Scratch::new("admin-pause");
    let (a_topic, b_topic) = (unique_topic("admin-a"), unique_topic("admin-b"));
    let port = free_port();
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [[tenant]]\nname = \"t\"\ntopics = [\"{a_topic}\", \"{b_topic}\"]\n{}{}",
        brokers(),
        datagen("a", "t", &a_topic, "rate = 2000"),
        datagen("b", "t", &b_topic, "rate = 2000"),
    );
    let host = start(&dir, &config);
    let base = format!("http://127.0.0.1:{port}");
    // Counters from the API while records flow (a topic still being
    // written to cannot be read to its end).
    let delivered = |name: &str| {
        http("GET", &format!("{base}/plugins/{name}"), None).json()["counters"]["delivered"]
            .as_u64()
            .expect("delivered")
    };
    wait_until("b has made records", Duration::from_secs(30), || {
        delivered("b") > 0
    });

    let a = http("POST", &format!("{base}/plugins/b/pause"), None);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["state"], "paused");
    let plugin = http("GET", &format!("{base}/plugins/b"), None).json();
    assert_eq!(plugin["state"], "paused", "{plugin}");
    assert_eq!(plugin["in_flight_records"], 0, "{plugin}");
    // Paused after delivering its records in flight: what is there now is
    // all there will be until it resumes, and it has no gap.
    let at_pause = seqs(&b_topic);
    assert_eq!(at_pause, (0..at_pause.len() as u64).collect::<Vec<_>>());
    let a_at_pause = delivered("a");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(seqs(&b_topic), at_pause, "b made records while paused");
    assert!(delivered("a") > a_at_pause, "a stopped too");

    // The command line sees the same, and resumes it.
    let cli = |args: &[&str]| {
        let out = streamplug_tests::streamplug()
            .args(args)
            .args(["--admin", &base])
            .output()
            .expect("streamplug");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let status = cli(&["status"]);
    let row = |name: &str| {
        status
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}: {status}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("b")[1..4], ["source", "t", "paused"], "{status}");
    // At 2,000 records/s it is idle between its batches.
    assert!(
        ["running", "idle"].contains(&row("a")[3].as_str()),
        "{status}"
    );
    assert_eq!(
        row("b")[4],
        at_pause.len().to_string(),
        "b's delivered: {status}"
    );
    assert_eq!(cli(&["resume", "b"]).trim(), "b: resumed");
    wait_until("b flows again", Duration::from_secs(30), || {
        delivered("b") > at_pause.len() as u64 + 1000
    });
    host.stop();
    let summary = read_summary(&dir.path().join("summary.json"));
    let b = seqs(&b_topic);
    assert_eq!(
        b,
        (0..b.len() as u64).collect::<Vec<_>>(),
        "gap or duplicate"
    );
    assert_eq!(summary["plugins"]["b"]["delivered"], b.len() as u64);
}

#[test]
fn a_non_loopback_admin_needs_a_token_and_malformed_requests_get_json_errors() {
    let dir = Scratch::new("admin-token");
    let topic = unique_topic("admin-token");
    let port = free_port();
    let source = format!(
        "[[source]]\nname = \"gen\"\nwasm = \"{}\"\ntopic = \"{topic}\"\n[source.config]\nrate = 500\n",
        artifacts::DATAGEN
    );
    let kafka = format!("[kafka]\nbrokers = \"{}\"\n", brokers());

    // Reachable from other machines without a token: refused at startup.
    let open = dir.write(
        "open.toml",
        &format!("{kafka}[admin]\nlisten = \"0.0.0.0:{port}\"\n{source}"),
    );
    let out = streamplug_tests::streamplug()
        .arg("run")
        .arg(&open)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("[admin]") && stderr.contains("token_env"),
        "{stderr}"
    );

    let token = "s3cret-admin-token-for-tests";
    let config =
        format!("{kafka}[admin]\nlisten = \"0.0.0.0:{port}\"\ntoken_file = \"token\"\n{source}");
    dir.write("token", &format!("{token}\n"));
    let host = start(&dir, &config);
    let base = format!("http://127.0.0.1:{port}");

    http("GET", &format!("{base}/plugins"), None).assert_json_error(401);
    http("GET", &format!("{base}/plugins"), Some("wrong")).assert_json_error(401);
    http("POST", &format!("{base}/plugins/gen/pause"), None).assert_json_error(401);
    http("GET", &format!("{base}/config"), None).assert_json_error(401);
    let plugins = http("GET", &format!("{base}/plugins"), Some(token));
    assert_eq!(plugins.status, 200, "{}", plugins.body);
    assert_eq!(plugins.json()["plugins"][0]["name"], "gen");
    // Metrics and the health checks need no token.
    assert_eq!(http("GET", &format!("{base}/metrics"), None).status, 200);
    assert_eq!(
        http("GET", &format!("{base}/health"), None).json()["status"],
        "alive"
    );
    let ready = http("GET", &format!("{base}/ready"), None);
    assert_eq!(
        (ready.status, ready.json()["ready"].clone()),
        (200, true.into())
    );
    // The config, without the token's file content anywhere.
    let config = http("GET", &format!("{base}/config"), Some(token));
    assert_eq!(config.status, 200);
    assert!(!config.body.contains(token), "{}", config.body);
    assert_eq!(config.json()["source"][0]["name"], "gen");

    // Malformed or wrong requests: 4xx with a JSON error, never a crash.
    let t = Some(token);
    http("GET", &format!("{base}/nothing-here"), t).assert_json_error(404);
    http("DELETE", &format!("{base}/plugins"), t).assert_json_error(405);
    http("GET", &format!("{base}/plugins/no-such"), t).assert_json_error(404);
    http("POST", &format!("{base}/plugins/no-such/pause"), t).assert_json_error(404);
    http("GET", &format!("{base}/plugins/%FF%FE"), t).assert_json_error(400);
    let mut raw = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw.write_all(b"NOT HTTP AT ALL\r\n\r\n").expect("write");
    let mut answer = String::new();
    let _ = raw.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer:?}");
    assert_eq!(http("GET", &format!("{base}/health"), None).status, 200);
    host.stop();
}

/// `name`'s series of `metric` with its labels (a source's, with a tenant).
fn source_series(metric: &str, plugin: &str) -> String {
    series(metric, plugin, "t")
}

/// Within a millionth: the summary's JSON and the exposition print the
/// same `f64`, but each in its own way.
fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= want.abs() * 1e-6 + 1e-9,
        "{what}: {got} in /metrics, {want} in the summary"
    );
}

const KINDS: &[&str] = &[
    "producer_refused",
    "timed_out",
    "over_cap",
    "plugin_error",
    "schema_mismatch",
    "invalid_route",
    "other",
];

#[test]
fn metrics_show_failures_by_kind_waits_call_time_memory_in_flight_and_checkpoints() {
    let dir = Scratch::new("admin-kinds");
    let port = free_port();
    let topics: Vec<String> = [
        "capped",
        "windowed",
        "throttled",
        "notjson",
        "oversize",
        "refused",
        "keeper",
    ]
    .iter()
    .map(|n| unique_topic(&format!("admin-{n}")))
    .collect();
    let source = |name: &str, topic: &str, extra: &str, config: &str| {
        format!(
            "[[source]]\nname = \"{name}\"\ntenant = \"t\"\nwasm = \"{}\"\ntopic = \"{topic}\"\n\
             batch_size = 100\n{extra}\n[source.config]\n{config}\n",
            artifacts::DATAGEN
        )
    };
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\ncompression = \"none\"\nmax_in_flight_records = 300\n\
         [admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [checkpoints]\nstore = \"file\"\ndir = \"{}\"\ninterval_ms = 100\n\
         [[tenant]]\nname = \"t\"\ntopics = {topics:?}\n{}{}{}{}{}{}{}",
        brokers(),
        dir.path().join("checkpoints").display(),
        // At most 20 records in flight: it waits at its cap.
        source(
            "capped",
            &topics[0],
            "max_in_flight_records = 20",
            "count = 20000"
        ),
        // Alone past the shared window of 300: it waits for its turn.
        source("windowed", &topics[1], "", "count = 30000"),
        // 1,000 records/s with a second's burst: about 2 s waiting on it.
        source(
            "throttled",
            &topics[2],
            "quota = { records_per_second = 1000 }",
            "count = 3000"
        ),
        // Bytes where JSON is expected: every record fails its format.
        source(
            "notjson",
            &topics[3],
            "value_format = { type = \"json\" }",
            "count = 50"
        ),
        // Over the source's own size limit: refused by the host.
        source(
            "oversize",
            &topics[4],
            "max_record_bytes = \"1KiB\"",
            "count = 30\nvalue_size = 3000"
        ),
        // Over the topic's size limit: refused by the broker.
        source(
            "refused",
            &topics[5],
            "topic_config = { \"max.message.bytes\" = \"1000\" }",
            "count = 20\nvalue_size = 3000"
        ),
        // Keeps the host running once the others have finished.
        source("keeper", &topics[6], "", "rate = 5"),
    );
    let host = start(&dir, &config);
    let base = format!("http://127.0.0.1:{port}");

    // While `throttled` runs (its quota holds it for about 2 s): its
    // instance's memory is counted, within its limit; `capped` never has
    // more in flight than its cap.
    let mut seen_memory = false;
    let mut seen_capped = false;
    wait_until(
        "throttled's memory while it runs",
        Duration::from_secs(60),
        || {
            let s = samples(&http("GET", &format!("{base}/metrics"), None).body);
            let capped = s[&source_series("streamplug_in_flight_records", "capped")];
            assert!(capped <= 20.0, "capped has {capped} records in flight");
            seen_capped |= s[&source_series("streamplug_records_delivered_total", "capped")] > 0.0;
            let memory = s[&source_series("streamplug_plugin_memory_bytes", "throttled")];
            assert!(memory <= 64.0 * 1024.0 * 1024.0, "{memory} bytes");
            seen_memory |= memory > 0.0
                && s[&source_series("streamplug_records_delivered_total", "throttled")] < 3000.0;
            seen_memory && seen_capped
        },
    );

    // Every source finishes by itself; the end is when two scrapes agree.
    let names = [
        "capped",
        "windowed",
        "throttled",
        "notjson",
        "oversize",
        "refused",
    ];
    wait_until("every source finished", Duration::from_secs(120), || {
        names.iter().all(|n| {
            http("GET", &format!("{base}/plugins/{n}"), None).json()["state"] == "finished"
        })
    });
    // (Those of the sources that finished: `keeper` goes on.)
    let settled = |t: &str| -> Vec<(String, f64)> {
        samples(t)
            .into_iter()
            .filter(|(k, _)| {
                names
                    .iter()
                    .any(|n| k.contains(&format!("{{plugin=\"{n}\",")))
                    && !k.contains("age_seconds")
            })
            .collect()
    };
    let mut previous = Vec::new();
    let mut end_text = String::new();
    wait_until("counters settle", Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(500));
        end_text = http("GET", &format!("{base}/metrics"), None).body;
        let now = settled(&end_text);
        std::mem::replace(&mut previous, now.clone()) == now
    });
    promtool_check(&end_text);
    let end = samples(&end_text);
    host.stop();
    let summary = read_summary(&dir.path().join("summary.json"));

    let kind = |plugin: &str, kind: &str| {
        end[&format!(
            "streamplug_record_failures_total{{plugin=\"{plugin}\",world=\"source\",tenant=\"t\",cause=\"{kind}\"}}"
        )]
    };
    for name in names {
        let p = &summary["plugins"][name];
        // The kinds add up to the failed records, and each equals the summary's.
        let total: f64 = KINDS.iter().map(|k| kind(name, k)).sum();
        assert_eq!(total, p["failed"].as_u64().unwrap() as f64, "{name}");
        for k in KINDS {
            let want = p["failure_kinds"][*k].as_u64().unwrap_or(0) as f64;
            assert_eq!(kind(name, k), want, "{name} {k}");
        }
        for (field, metric) in [
            (
                "waited_quota_seconds",
                "streamplug_quota_wait_seconds_total",
            ),
            (
                "waited_caps_seconds",
                "streamplug_in_flight_cap_wait_seconds_total",
            ),
            (
                "waited_window_seconds",
                "streamplug_window_wait_seconds_total",
            ),
            ("call_seconds", "streamplug_plugin_call_seconds_total"),
        ] {
            let want = p[field]
                .as_f64()
                .unwrap_or_else(|| panic!("{name}.{field}"));
            assert_close(
                end[&source_series(metric, name)],
                want,
                &format!("{name} {metric}"),
            );
        }
        assert!(end[&source_series("streamplug_plugin_call_seconds_total", name)] > 0.0);
        // Finished: nothing in flight, and its instance's memory released.
        assert_eq!(
            end[&source_series("streamplug_in_flight_records", name)],
            0.0
        );
        assert_eq!(end[&source_series("streamplug_in_flight_bytes", name)], 0.0);
        assert_eq!(
            end[&source_series("streamplug_plugin_memory_bytes", name)],
            0.0
        );
        assert_eq!(p["memory_bytes"], 0, "{name}");
    }
    // What the test made happen, each under its cause.
    assert_eq!(kind("notjson", "schema_mismatch"), 50.0);
    assert_eq!(kind("oversize", "over_cap"), 30.0);
    assert_eq!(kind("refused", "over_cap"), 20.0);
    assert!(
        summary["plugins"]["refused"]["failures"]
            .to_string()
            .contains("refused by Kafka"),
        "{}",
        summary["plugins"]["refused"]
    );
    for (name, n) in [
        ("capped", 20_000.0),
        ("windowed", 30_000.0),
        ("throttled", 3000.0),
    ] {
        assert_eq!(
            end[&source_series("streamplug_records_delivered_total", name)],
            n
        );
        assert_eq!(kind(name, "over_cap") + kind(name, "other"), 0.0);
    }
    let waited = |metric: &str, name: &str| end[&source_series(metric, name)];
    assert!(waited("streamplug_in_flight_cap_wait_seconds_total", "capped") > 0.0);
    assert!(waited("streamplug_window_wait_seconds_total", "windowed") > 0.0);
    assert!(waited("streamplug_quota_wait_seconds_total", "throttled") > 0.0);
    // No quota: never waited on one.
    assert_eq!(waited("streamplug_quota_wait_seconds_total", "capped"), 0.0);

    // Checkpoints: each source that delivered committed some.
    for name in ["capped", "windowed", "throttled"] {
        let commits = end[&source_series("streamplug_checkpoint_commits_total", name)];
        assert!(commits >= 1.0, "{name}: {commits} commits");
        let age = end[&source_series("streamplug_checkpoint_age_seconds", name)];
        assert!(age >= 0.0, "{name}: age {age}");
    }
}

/// `2026-12-02T12:33:44.123Z`: RFC 3339 in UTC, with milliseconds.
fn assert_rfc3339(t: &str) {
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    assert!(
        b.len() == 24
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && b[19] == b'.'
            && digits(20..23)
            && b[23] == b'Z',
        "not RFC 3339: {t}"
    );
}

#[test]
fn a_trapping_source_shows_backing_off_then_given_up_with_its_last_error() {
    let dir = Scratch::new("admin-states");
    let port = free_port();
    // panic-on-nth with n = 0 traps in its first poll: a restart after a
    // 4 s backoff, which traps again, and it is given up on (one restart
    // allowed). `quiet` makes a record a second: idle in between.
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [runtime]\nrestart_backoff_ms = 4000\nrestart_window_ms = 600000\nmax_restarts = 1\n\
         [[source]]\nname = \"broken\"\nwasm = \"{}\"\ntopic = \"{}\"\n[source.config]\nn = 0\n\
         [[source]]\nname = \"quiet\"\nwasm = \"{}\"\ntopic = \"{}\"\n[source.config]\nrate = 1\n",
        brokers(),
        artifacts::TEST_PANIC_ON_NTH,
        unique_topic("admin-broken"),
        artifacts::DATAGEN,
        unique_topic("admin-quiet"),
    );
    let host = start(&dir, &config);
    let base = format!("http://127.0.0.1:{port}");
    let plugin = |name: &str| http("GET", &format!("{base}/plugins/{name}"), None).json();

    let mut backing_off = serde_json::Value::Null;
    wait_until("broken backs off", Duration::from_secs(30), || {
        backing_off = plugin("broken");
        backing_off["state"] == "backing_off"
    });
    let error = &backing_off["last_error"];
    let message = error["message"].as_str().expect("last_error.message");
    assert!(
        message.contains("trapped") && message.contains("panic-on-nth: reached record 0"),
        "{backing_off}"
    );
    assert_rfc3339(error["time"].as_str().expect("last_error.time"));
    assert_eq!(backing_off["counters"]["restarts"], 1, "{backing_off}");

    wait_until("quiet is idle", Duration::from_secs(30), || {
        plugin("quiet")["state"] == "idle"
    });
    assert_eq!(plugin("quiet")["last_error"], serde_json::Value::Null);

    let mut given_up = serde_json::Value::Null;
    wait_until("broken given up", Duration::from_secs(30), || {
        given_up = plugin("broken");
        given_up["state"] == "given_up"
    });
    let error = &given_up["last_error"];
    let message = error["message"].as_str().expect("last_error.message");
    assert!(
        message.contains("giving up after 2 failures")
            && message.contains("panic-on-nth: reached record 0"),
        "{given_up}"
    );
    let time = error["time"].as_str().expect("last_error.time");
    assert_rfc3339(time);
    assert!(
        time >= backing_off["last_error"]["time"].as_str().unwrap(),
        "{time} is before the first failure"
    );
    let ready = http("GET", &format!("{base}/ready"), None);
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.json()["given_up"], serde_json::json!(["broken"]));
    // The list says the same as the one plugin.
    let list = http("GET", &format!("{base}/plugins"), None).json();
    let listed = list["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["name"] == "broken")
        .expect("broken listed")
        .clone();
    assert_eq!(listed["state"], "given_up");
    assert_eq!(listed["last_error"], given_up["last_error"]);
    // Not in a cluster: nothing to show there.
    http("GET", &format!("{base}/cluster"), None).assert_json_error(404);

    host.stop();
    let summary = read_summary(&dir.path().join("summary.json"));
    assert_eq!(
        summary["plugins"]["broken"]["last_error"],
        given_up["last_error"]
    );
    assert_eq!(summary["plugins"]["broken"]["gave_up"], true);
}

#[test]
fn in_a_cluster_the_api_and_the_summary_show_this_hosts_assignment() {
    let dir = Scratch::new("admin-cluster");
    let port = free_port();
    let group = unique_topic("admin-cluster-group");
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [checkpoints]\nstore = \"kafka\"\ntopic = \"{}\"\n\
         [cluster]\ngroup = \"{group}\"\nsession_timeout_ms = 6000\nhost_id = \"solo\"\n\
         [[source]]\nname = \"a\"\nwasm = \"{}\"\ntopic = \"{}\"\n[source.config]\nrate = 200\n\
         [[source]]\nname = \"b\"\nwasm = \"{}\"\ntopic = \"{}\"\n[source.config]\nrate = 200\n",
        brokers(),
        unique_topic("admin-cluster-checkpoints"),
        artifacts::DATAGEN,
        unique_topic("admin-cluster-a"),
        artifacts::DATAGEN,
        unique_topic("admin-cluster-b"),
    );
    let path = dir.write("config.toml", &config);
    let host = Host(Some(spawn_run(
        &path,
        &dir.path().join("summary.json"),
        dir.path(),
    )));
    wait_for_log(dir.path(), "streamplug: joined cluster group");
    let base = format!("http://127.0.0.1:{port}");

    // The only host of its group: both sources are assigned to it.
    let mut view = serde_json::Value::Null;
    wait_until("both sources assigned", Duration::from_secs(60), || {
        view = http("GET", &format!("{base}/cluster"), None).json();
        view["assigned"] == serde_json::json!(["a", "b"])
    });
    assert_eq!(view["group"], group.as_str(), "{view}");
    assert_eq!(view["host_id"], "solo", "{view}");
    assert_eq!(view["sources_run"], serde_json::json!(["a", "b"]), "{view}");
    let rebalances = view["rebalances"].as_u64().expect("rebalances");
    assert!(rebalances >= 1, "{view}");
    let plugins = http("GET", &format!("{base}/plugins"), None).json();
    for p in plugins["plugins"].as_array().expect("plugins") {
        assert_eq!(p["runs_here"], true, "{p}");
    }
    wait_until("a delivers", Duration::from_secs(30), || {
        http("GET", &format!("{base}/plugins/a"), None).json()["counters"]["delivered"]
            .as_u64()
            .is_some_and(|d| d > 0)
    });

    host.stop();
    let summary = read_summary(&dir.path().join("summary.json"));
    let c = &summary["cluster"];
    assert_eq!(c["group"], group.as_str(), "{summary}");
    assert_eq!(c["host_id"], "solo");
    assert_eq!(c["sources_run"], serde_json::json!(["a", "b"]));
    // Leaving revokes both: one more rebalance than while it ran.
    assert!(c["rebalances"].as_u64().unwrap() > rebalances, "{c}");
}

/// One plain status line of a source: `status <name> <state> <rate> rec/s
/// <delivered> delivered <failed> failed <in flight> in flight`.
#[derive(Debug, Clone, PartialEq)]
struct StatusLine {
    state: String,
    rate: f64,
    delivered: u64,
    failed: u64,
    in_flight: u64,
}

/// Every status line of source `name` in `log`, oldest first.
fn status_lines(log: &str, name: &str) -> Vec<StatusLine> {
    log.lines()
        .filter_map(|l| l.split_once(" status ").map(|(_, rest)| rest))
        .map(|rest| rest.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.first() == Some(&name))
        .map(|w| {
            assert_eq!(
                (w.len(), w[3], w[5], w[7], &w[9..]),
                (11, "rec/s", "delivered", "failed", &["in", "flight"][..]),
                "{w:?}"
            );
            let n = |i: usize| w[i].parse::<u64>().unwrap_or_else(|_| panic!("{w:?}"));
            StatusLine {
                state: w[1].to_string(),
                rate: w[2].parse().unwrap_or_else(|_| panic!("{w:?}")),
                delivered: n(4),
                failed: n(6),
                in_flight: n(8),
            }
        })
        .collect()
}

#[test]
fn without_a_terminal_status_lines_are_logged_and_the_last_adds_up_with_the_summary() {
    let dir = Scratch::new("status-lines");
    let config = format!(
        "[kafka]\nbrokers = \"{}\"\n\
         [[source]]\nname = \"keeper\"\nwasm = \"{d}\"\ntopic = \"{}\"\n[source.config]\nrate = 20\n\
         [[source]]\nname = \"counted\"\nwasm = \"{d}\"\ntopic = \"{}\"\n[source.config]\ncount = 5000\n\
         [[source]]\nname = \"notjson\"\nwasm = \"{d}\"\ntopic = \"{}\"\nvalue_format = {{ type = \"json\" }}\n\
         [source.config]\ncount = 100\n",
        brokers(),
        unique_topic("status-keeper"),
        unique_topic("status-counted"),
        unique_topic("status-notjson"),
        d = artifacts::DATAGEN,
    );
    let path = dir.write("config.toml", &config);
    let summary_path = dir.path().join("summary.json");
    let err = std::fs::File::create(dir.path().join("stderr.log")).expect("log");
    let child = streamplug_tests::streamplug()
        .arg("run")
        .arg(&path)
        .arg("--summary-json")
        .arg(&summary_path)
        .args(["--status-every", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(err)
        .spawn()
        .expect("streamplug");
    let host = Host(Some(child));
    let log = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();

    // `counted` and `notjson` finish; their lines stop changing.
    wait_until(
        "the finished sources' lines settle",
        Duration::from_secs(60),
        || {
            let log = log();
            ["counted", "notjson"].iter().all(|n| {
                let lines = status_lines(&log, n);
                lines.len() >= 2
                    && lines[lines.len() - 1].state == "finished"
                    && lines[lines.len() - 1] == lines[lines.len() - 2]
            })
        },
    );
    host.stop();
    let summary = read_summary(&summary_path);
    let log = log();

    for (name, made) in [("counted", 5000), ("notjson", 100)] {
        let lines = status_lines(&log, name);
        let last = lines.last().expect("a status line");
        let p = &summary["plugins"][name];
        assert_eq!(
            last.delivered,
            p["delivered"].as_u64().unwrap(),
            "{name}: {last:?}"
        );
        assert_eq!(
            last.failed,
            p["failed"].as_u64().unwrap(),
            "{name}: {last:?}"
        );
        assert_eq!(last.in_flight, 0, "{name}: {last:?}");
        assert_eq!(last.delivered + last.failed, made, "{name}: {last:?}");
        assert_eq!(last.rate, 0.0, "{name}: finished, yet {last:?}");
    }
    assert_eq!(status_lines(&log, "notjson").last().unwrap().failed, 100);
    // The one still running: its lines only grow, up to the summary's count.
    let keeper = status_lines(&log, "keeper");
    assert!(keeper.len() >= 2, "{keeper:?}");
    assert!(keeper.windows(2).all(|w| w[0].delivered <= w[1].delivered));
    assert!(
        keeper
            .iter()
            .all(|l| l.state == "running" || l.state == "idle")
    );
    assert!(
        keeper.last().unwrap().delivered
            <= summary["plugins"]["keeper"]["delivered"].as_u64().unwrap()
    );
}
