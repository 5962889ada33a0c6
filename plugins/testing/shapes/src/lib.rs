//! Checks the contract rather than breaking it: emits one record of every
//! shape the WIT allows (null key, tombstone, empty key and value, repeated
//! headers in order, explicit partition and timestamp), logs through the
//! host, and reports in headers what the sandbox let it do: a file, an
//! environment variable and a socket must be refused; the clock must work.

use std::time::{SystemTime, UNIX_EPOCH};

use streamplug_sdk::{BatchWriter, Config, Poll, Source};

struct Shapes {
    done: bool,
    /// `connect_to`: an address that really accepts connections, so that a
    /// refusal can only come from the sandbox.
    connect_to: String,
}

fn outcome<T, E: std::fmt::Display>(r: Result<T, E>) -> String {
    match r {
        Ok(_) => "allowed".to_string(),
        Err(e) => format!("denied: {e}"),
    }
}

impl Source for Shapes {
    fn init(config: Config) -> Result<Self, String> {
        streamplug_sdk::log::info("shapes: init called");
        Ok(Shapes {
            done: false,
            connect_to: config.require("connect_to")?.to_string(),
        })
    }

    fn poll(&mut self, max_records: u32, out: &mut BatchWriter) -> Result<Poll, String> {
        if self.done {
            return Ok(Poll::Finished);
        }
        if max_records < 5 {
            return Err(format!(
                "shapes needs room for 5 records, got {max_records}"
            ));
        }
        let file = outcome(std::fs::read_to_string("/etc/passwd"));
        let env = outcome(std::env::var("HOME"));
        let socket = outcome(std::net::TcpStream::connect(self.connect_to.as_str()));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            .to_string();

        // 0: the sandbox report, null key.
        out.record()
            .value(b"report")
            .header("seq", b"0")
            .header("file", file.as_bytes())
            .header("env", env.as_bytes())
            .header("socket", socket.as_bytes())
            .header("clock", now.as_bytes())
            .finish();
        // 1: a tombstone with a key.
        out.record().key(b"gone").header("seq", b"1").finish();
        // 2: empty key and empty value (present, not null).
        out.record()
            .key(b"")
            .value(b"")
            .header("seq", b"2")
            .finish();
        // 3: repeated header names, an empty header value, order kept.
        out.record()
            .key(b"k3")
            .value(b"v3")
            .header("seq", b"3")
            .header("dup", b"first")
            .header("empty", b"")
            .header("dup", b"second")
            .finish();
        // 4: explicit partition and timestamp.
        out.record()
            .key(b"k4")
            .value(b"v4")
            .partition(1)
            .timestamp(1_234_567_890_123)
            .header("seq", b"4")
            .finish();
        self.done = true;
        Ok(Poll::Ready)
    }
}

streamplug_sdk::export_source!(Shapes);
