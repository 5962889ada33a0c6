//! Secrets (passwords, tokens, key passphrases): loaded from the environment
//! or a file, never shown. A [`Secret`] prints as `[redacted]`, and every
//! secret value loaded is also remembered process-wide, so that text from
//! elsewhere (librdkafka's log, error messages, the summary) is scrubbed of
//! it before it is written anywhere ([`scrub`], [`RedactingStderr`]).

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::RwLock;

const REDACTED: &str = "[redacted]";

/// librdkafka properties whose values are secrets, when a user passes them
/// through `[kafka] properties` directly.
pub const SENSITIVE_PROPERTIES: &[&str] = &[
    "sasl.password",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl_key",
    "ssl.keystore.password",
    "ssl.truststore.password",
];

/// Every secret value loaded so far, longest first (so that a secret that
/// contains another is replaced whole).
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// A secret value. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` and remembers it for [`scrub`].
    pub fn new(value: String) -> Self {
        remember(&value);
        Self(value)
    }

    /// The value of environment variable `name`.
    pub fn from_env(name: &str) -> Result<Self, String> {
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(Self::new(v)),
            Ok(_) => Err(format!("environment variable `{name}` is empty")),
            Err(std::env::VarError::NotPresent) => {
                Err(format!("environment variable `{name}` is not set"))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("environment variable `{name}` is not valid UTF-8"))
            }
        }
    }

    /// The content of `path`, without a trailing newline.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let value = text.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            return Err(format!("{} is empty", path.display()));
        }
        Ok(Self::new(value.to_string()))
    }

    /// The secret itself: only for handing it to the client that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

/// Remembers `value` as a secret: [`scrub`] replaces it from now on.
pub fn remember(value: &str) {
    // Very short values would turn ordinary text into noise, and cannot be
    // a serious secret.
    if value.len() < 4 {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| k == value) {
        known.push(value.to_string());
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// `text` with every known secret replaced by `[redacted]`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| text.contains(k.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for k in known.iter() {
        if out.contains(k.as_str()) {
            out = out.replace(k.as_str(), REDACTED);
        }
    }
    Cow::Owned(out)
}

/// Config text in an error message, with the value of any line that sets a
/// password, secret or token replaced: a config that does not parse has
/// loaded no secrets yet, and TOML's errors quote the offending line.
pub fn scrub_config_text(text: &str) -> String {
    text.lines()
        .map(|line| {
            let lower = line.to_ascii_lowercase();
            let secretish = ["password", "secret", "token", "passphrase", "key.pem"]
                .iter()
                .any(|w| lower.contains(w));
            match line.find('=') {
                Some(eq) if secretish => format!("{}= {REDACTED}", &line[..eq]),
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Standard error, with known secrets scrubbed from what is written: the
/// log's writer. An event is written whole in one call, so a secret is never
/// split between writes.
pub struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_redacted_and_are_scrubbed_from_text() {
        let s = Secret::new("hunter2-very-secret".into());
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2-very-secret");
        assert_eq!(
            scrub("sasl.password=hunter2-very-secret, again hunter2-very-secret"),
            "sasl.password=[redacted], again [redacted]"
        );
        assert_eq!(scrub("nothing here"), "nothing here");
    }

    #[test]
    fn config_lines_with_secrets_lose_their_values() {
        let text = "1 | password = \"abc\nzzz\n2 | username = \"u\"";
        assert_eq!(
            scrub_config_text(text),
            "1 | password = [redacted]\nzzz\n2 | username = \"u\""
        );
    }
}
