//! Issue 13: what SASL_SSL (TLS + SCRAM-SHA-512) costs against plaintext,
//! for bench case (c) (datagen -> passthrough transform -> keyhash
//! partitioner), in the same run with the runs interleaved (plaintext,
//! sasl_ssl, plaintext, ...). Records/s is the summary's delivered records
//! over its elapsed time (from the sources' start, so the connect is not
//! counted); CPU per record is the process's user + system time (from
//! `wait4`, startup included) over the records. Writes
//! `tests/bench-results/security.json`.
//!
//! ```text
//! STREAMPLUG_TEST_BROKERS=127.0.0.1:39092 STREAMPLUG_TEST_SECURITY=$(tests/kafka/broker.sh security-dir) \
//!   cargo run --release -p streamplug-tests --bin security-bench -- [RECORDS [ROUNDS]]
//! ```
//! Defaults: 1,000,000 records of 100 bytes, 3 rounds; needs the broker
//! started with `STREAMPLUG_KAFKA_SECURITY=1`.

use std::collections::HashMap;
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use serde_json::json;
use streamplug_tests::{Scratch, artifacts, brokers, read_summary, streamplug, unique_topic};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let records: u64 = args.first().map_or(Ok(1_000_000), |a| a.parse())?;
    let rounds: u32 = args.get(1).map_or(Ok(3), |a| a.parse())?;
    let sec = std::env::var("STREAMPLUG_TEST_SECURITY")
        .context("STREAMPLUG_TEST_SECURITY: the broker's security-dir")?;
    let info: HashMap<String, String> = std::fs::read_to_string(format!("{sec}/info"))?
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let plaintext = format!("[kafka]\nbrokers = \"{}\"\n", brokers());
    let sasl_ssl = format!(
        "[kafka]\nbrokers = \"{}\"\n[kafka.security]\nprotocol = \"sasl_ssl\"\n\
         mechanism = \"SCRAM-SHA-512\"\nusername = \"{}\"\npassword_env = \"BENCH_PASSWORD\"\n\
         ca_file = \"{sec}/ca.pem\"\n",
        info["sasl_ssl"], info["user"]
    );
    let dir = Scratch::new("security-bench");
    let mut runs: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
    for round in 0..rounds {
        for (name, kafka) in [("plaintext", &plaintext), ("sasl_ssl", &sasl_ssl)] {
            let topic = unique_topic("sec.bench");
            let (rate, cpu) = run(&dir, kafka, &topic, records, &info["password"])?;
            eprintln!(
                "round {round} {name}: {rate:.0} records/s, {:.2} µs CPU/record",
                cpu * 1e6
            );
            runs.entry(name).or_default().push((rate, cpu));
        }
    }
    let median = |name: &str, pick: fn(&(f64, f64)) -> f64| {
        let mut v: Vec<f64> = runs[name].iter().map(pick).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p_rate, s_rate) = (median("plaintext", |r| r.0), median("sasl_ssl", |r| r.0));
    let (p_cpu, s_cpu) = (median("plaintext", |r| r.1), median("sasl_ssl", |r| r.1));
    let result = json!({
        "case": "c: datagen -> passthrough -> keyhash-partitioner, 100-byte values, 6 partitions",
        "records": records,
        "rounds": rounds,
        "plaintext": { "records_per_s": p_rate, "cpu_us_per_record": p_cpu * 1e6 },
        "sasl_ssl_scram_sha_512": { "records_per_s": s_rate, "cpu_us_per_record": s_cpu * 1e6 },
        "ratio_sasl_ssl_to_plaintext": {
            "records_per_s": s_rate / p_rate,
            "cpu_per_record": s_cpu / p_cpu,
        },
        "runs": runs,
        "loadavg": streamplug_tests::loadavg(),
    });
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/bench-results/security.json");
    std::fs::write(out, serde_json::to_string_pretty(&result)? + "\n")?;
    println!(
        "{}",
        serde_json::to_string_pretty(&result["ratio_sasl_ssl_to_plaintext"])?
    );
    Ok(())
}

/// One run of case (c): records/s and CPU seconds per record.
fn run(
    dir: &Scratch,
    kafka: &str,
    topic: &str,
    records: u64,
    password: &str,
) -> Result<(f64, f64)> {
    let config = format!(
        "{kafka}\n[[source]]\nname = \"datagen\"\nwasm = \"{}\"\ntopic = \"{topic}\"\n\
         partitions = 6\ntransforms = [\"passthrough\"]\npartitioner = \"keyhash\"\n\
         [source.config]\ncount = {records}\nvalue_size = 100\n\n\
         [[transform]]\nname = \"passthrough\"\nwasm = \"{}\"\n\n\
         [[partitioner]]\nname = \"keyhash\"\nwasm = \"{}\"\n",
        artifacts::DATAGEN,
        artifacts::TEST_PASSTHROUGH,
        artifacts::KEYHASH_PARTITIONER
    );
    let path = dir.write("bench.toml", &config);
    let summary = dir.path().join("summary.json");
    let child = streamplug()
        .env("BENCH_PASSWORD", password)
        .arg("run")
        .arg(&path)
        .arg("--summary-json")
        .arg(&summary)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run streamplug")?;
    let pid = child.id() as libc::pid_t;
    let (mut status, mut ru) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waits for our own child; `ru` is a valid rusage to fill.
    if unsafe { libc::wait4(pid, &mut status, 0, &mut ru) } != pid {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("streamplug failed (status {status})");
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = secs(ru.ru_utime) + secs(ru.ru_stime);
    let s = read_summary(&summary);
    let delivered = s["plugins"]["datagen"]["delivered"].as_u64().unwrap_or(0);
    if delivered != records {
        bail!("{delivered} of {records} records delivered");
    }
    let elapsed = s["elapsed_seconds"]
        .as_f64()
        .context("no elapsed_seconds")?;
    Ok((records as f64 / elapsed, cpu / records as f64))
}
