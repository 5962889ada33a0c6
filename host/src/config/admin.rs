//! `[admin]`: the HTTP server for metrics and the admin API (see the
//! `admin` module). Off unless the table is present.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secrets::Secret;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The environment variable holding the bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// A file holding the bearer token (relative to the config's folder).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

fn default_listen() -> String {
    "127.0.0.1:9464".into()
}

/// `[admin]` checked, with its token loaded.
#[derive(Debug, Clone)]
pub struct Admin {
    pub listen: SocketAddr,
    /// Asked of every request but `/metrics` and the health checks.
    pub token: Option<Secret>,
}

impl AdminConfig {
    /// Checks the table and loads the token. Anyone who can reach a
    /// non-loopback address could pause plugins or read the config: such an
    /// address needs a token.
    pub fn resolve(&self, base_dir: &Path) -> Result<Admin, String> {
        let listen: SocketAddr = self.listen.parse().map_err(|e| {
            format!(
                "field `listen`: `{}` is not an address and port such as 127.0.0.1:9464 ({e})",
                self.listen
            )
        })?;
        let token = match (&self.token_env, &self.token_file) {
            (Some(_), Some(_)) => {
                return Err("give `token_env` or `token_file`, not both".into());
            }
            (Some(var), None) => {
                Some(Secret::from_env(var).map_err(|e| format!("field `token_env`: {e}"))?)
            }
            (None, Some(file)) => {
                let path = if file.is_absolute() {
                    file.clone()
                } else {
                    base_dir.join(file)
                };
                Some(Secret::from_file(&path).map_err(|e| format!("field `token_file`: {e}"))?)
            }
            (None, None) => None,
        };
        if token.is_none() && !listen.ip().is_loopback() {
            return Err(format!(
                "field `listen`: {listen} is reachable from other machines: set `token_env` or `token_file` so that only holders of the token can use the admin API"
            ));
        }
        Ok(Admin { listen, token })
    }
}
