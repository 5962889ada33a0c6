//! OAUTHBEARER with a token obtained outside streamplug (`token_env` /
//! `token_file`). The token travels to each client in its
//! `sasl.oauthbearer.config` property and is handed to librdkafka right
//! after the client is made: rust-rdkafka's admin client has no token
//! callback, and the shared producer serves its events itself.

use std::ffi::CString;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::ClientConfig;

use crate::config::StaticToken;

/// Marks a `sasl.oauthbearer.config` written by streamplug.
const PREFIX: &str = "streamplug-static-token\n";

/// The property value that carries `token` to every client.
pub fn encode(token: &StaticToken) -> String {
    format!("{PREFIX}{}\n{}", token.principal, token.token.expose())
}

/// Gives `client`, just made from `config`, its token if `config` carries one.
pub fn give_token<C: ClientContext>(config: &ClientConfig, client: &Client<C>) -> Result<()> {
    let Some(rest) = config
        .get("sasl.oauthbearer.config")
        .and_then(|c| c.strip_prefix(PREFIX))
    else {
        return Ok(());
    };
    let (principal, token) = rest
        .split_once('\n')
        .context("malformed OAUTHBEARER token setting")?;
    let token = CString::new(token).context("the OAUTHBEARER token contains a NUL byte")?;
    let principal = CString::new(principal).context("`username` contains a NUL byte")?;
    // The broker judges the token's own expiry; librdkafka only needs a
    // lifetime in the future, and would ask for a new token at 80% of it.
    let lifetime = SystemTime::now() + Duration::from_secs(365 * 24 * 3600);
    let lifetime_ms = lifetime
        .duration_since(UNIX_EPOCH)
        .map_or(i64::MAX, |d| d.as_millis() as i64);
    let mut err = [0 as std::ffi::c_char; 512];
    // SAFETY: a live client; the strings outlive the call, which copies them.
    let code = unsafe {
        rd::rd_kafka_oauthbearer_set_token(
            client.native_ptr(),
            token.as_ptr(),
            lifetime_ms,
            principal.as_ptr(),
            std::ptr::null_mut(),
            0,
            err.as_mut_ptr(),
            err.len(),
        )
    };
    if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: librdkafka NUL-terminates its error text.
        let why = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
        bail!("librdkafka refused the OAUTHBEARER token: {why}");
    }
    Ok(())
}
