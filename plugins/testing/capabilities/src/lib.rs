//! Tries what its config names, granted or not, and reports each outcome in
//! a header of one record: `ok:<what it read>` or `denied: <error>`. The
//! test decides which outcomes the grants should allow.
//!
//! Config (each optional, each a comma-separated list): `read` (files to
//! read), `write` (files to create), `env` (variable names), `connect` (TCP
//! addresses), `udp_send` (UDP addresses), `listen` (TCP addresses to bind),
//! `lookup` (host names), `hoard_sockets` (a number of sockets to open and
//! keep). Each outcome is in the header `<setting>:<item>`.

use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

struct Capabilities {
    settings: Vec<(String, String)>,
    done: bool,
}

fn outcome<T, E: std::fmt::Display>(r: Result<T, E>, show: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => format!("ok:{}", show(v)),
        Err(e) => format!("denied: {e}"),
    }
}

fn attempt(key: &str, arg: &str) -> String {
    match key {
        "read" => outcome(std::fs::read_to_string(arg), |s| s),
        "write" => outcome(std::fs::write(arg, b"written by a plugin"), |()| {
            String::new()
        }),
        "env" => outcome(std::env::var(arg), |v| v),
        "connect" => outcome(TcpStream::connect(arg), |_| String::new()),
        "udp_send" => {
            // An unbound socket, as a client would use: WASI checks the
            // destination only when sending.
            let sent = UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"hello", arg));
            outcome(sent, |n| n.to_string())
        }
        "listen" => outcome(TcpListener::bind(arg), |_| String::new()),
        "lookup" => outcome((arg, 80).to_socket_addrs(), |a| {
            a.map(|a| a.to_string()).collect::<Vec<_>>().join(",")
        }),
        "hoard_sockets" => {
            let want: usize = arg.parse().unwrap_or(0);
            let mut kept = Vec::new();
            let mut last = Ok(());
            for _ in 0..want {
                match UdpSocket::bind("0.0.0.0:0") {
                    Ok(s) => kept.push(s),
                    Err(e) => {
                        last = Err(e);
                        break;
                    }
                }
            }
            outcome(last, |()| kept.len().to_string())
        }
        _ => "denied: unknown setting".to_string(),
    }
}

impl Source for Capabilities {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Capabilities {
            settings: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            done: false,
        })
    }

    fn poll(&mut self, _max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        if self.done {
            return Ok(Poll::Finished);
        }
        let mut record = out.record().value(b"report").header("seq", b"0");
        for (key, list) in &self.settings {
            for arg in list.split(',') {
                let result = attempt(key, arg);
                record = record.header(&format!("{key}:{arg}"), result.as_bytes());
            }
        }
        record.finish();
        self.done = true;
        Ok(Poll::Ready)
    }
}

streamplug_sdk::export_source!(Capabilities);
