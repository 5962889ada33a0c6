//! `[kafka.security]`: how the host authenticates to the brokers and checks
//! them. Checked and its secrets loaded when the config is, so that a
//! missing password file stops `streamplug run` before anything starts.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secrets::Secret;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Plaintext => "plaintext",
            Protocol::Ssl => "ssl",
            Protocol::SaslPlaintext => "sasl_plaintext",
            Protocol::SaslSsl => "sasl_ssl",
        }
    }

    fn sasl(self) -> bool {
        matches!(self, Protocol::SaslPlaintext | Protocol::SaslSsl)
    }

    fn tls(self) -> bool {
        matches!(self, Protocol::Ssl | Protocol::SaslSsl)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Mechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    #[serde(rename = "OAUTHBEARER")]
    OauthBearer,
}

impl Mechanism {
    fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::OauthBearer => "OAUTHBEARER",
        }
    }
}

/// The table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    pub protocol: Protocol,
    pub mechanism: Option<Mechanism>,
    pub username: Option<String>,
    /// Accepted, with a warning: a password in the config file travels
    /// wherever the file does.
    pub password: Option<Secret>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    /// CA certificates (PEM) the brokers' certificates must chain to;
    /// without it, the system's.
    pub ca_file: Option<PathBuf>,
    /// The client certificate and its key (PEM), for mTLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub key_password_env: Option<String>,
    pub key_password_file: Option<PathBuf>,
    /// Whether a broker's certificate must name the host connected to.
    pub verify_hostname: Option<bool>,
    /// OAUTHBEARER with a token obtained elsewhere.
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    /// OAUTHBEARER with OIDC client credentials (needs a librdkafka with
    /// `oidc` in its `builtin.features`).
    pub oidc_token_url: Option<String>,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret_env: Option<String>,
    pub oidc_client_secret_file: Option<PathBuf>,
    pub oidc_scope: Option<String>,
}

/// The table checked, files found and secrets loaded: librdkafka
/// properties, and the static OAUTHBEARER token if there is one.
#[derive(Debug, Clone, Default)]
pub struct Security {
    pub properties: Vec<(&'static str, Value)>,
    pub token: Option<StaticToken>,
}

/// A property's value; secrets stay wrapped until the client is made.
#[derive(Debug, Clone)]
pub enum Value {
    Plain(String),
    Secret(Secret),
}

impl Value {
    pub fn expose(&self) -> &str {
        match self {
            Value::Plain(s) => s,
            Value::Secret(s) => s.expose(),
        }
    }
}

/// An OAUTHBEARER token obtained outside streamplug, and the principal it
/// stands for (librdkafka wants one; the broker takes its own from the token).
#[derive(Debug, Clone)]
pub struct StaticToken {
    pub token: Secret,
    pub principal: String,
}

/// Whether the librdkafka linked in can do OIDC client credentials.
pub type HasFeature = fn(&str) -> bool;

impl SecurityConfig {
    /// Checks the table and loads its secrets; relative paths start at
    /// `base`. Errors name the field.
    pub fn resolve(&self, base: &Path, has_feature: HasFeature) -> Result<Security, String> {
        let p = self.protocol;
        let mut props: Vec<(&'static str, Value)> =
            vec![("security.protocol", Value::Plain(p.name().into()))];
        let file = |field: &str, path: &PathBuf| -> Result<Value, String> {
            let path = base.join(path);
            std::fs::metadata(&path)
                .map_err(|e| format!("field `{field}`: cannot read {}: {e}", path.display()))?;
            Ok(Value::Plain(path.to_string_lossy().into_owned()))
        };
        if p.tls() {
            if let Some(ca) = &self.ca_file {
                props.push(("ssl.ca.location", file("ca_file", ca)?));
            }
            let verify = self.verify_hostname.unwrap_or(true);
            let algorithm = if verify { "https" } else { "none" };
            props.push((
                "ssl.endpoint.identification.algorithm",
                Value::Plain(algorithm.into()),
            ));
            match (&self.cert_file, &self.key_file) {
                (Some(c), Some(k)) => {
                    props.push(("ssl.certificate.location", file("cert_file", c)?));
                    props.push(("ssl.key.location", file("key_file", k)?));
                    let key_password = one_secret(
                        "key_password",
                        None,
                        &self.key_password_env,
                        &self.key_password_file,
                        base,
                    )?;
                    if let Some(kp) = key_password {
                        props.push(("ssl.key.password", Value::Secret(kp)));
                    }
                }
                (None, None) => self.none_of(&["key_password_env", "key_password_file"])?,
                _ => return Err("`cert_file` and `key_file` go together (mTLS)".into()),
            }
        } else {
            let tls_fields = [
                ("ca_file", self.ca_file.is_some()),
                ("cert_file", self.cert_file.is_some()),
                ("key_file", self.key_file.is_some()),
                ("verify_hostname", self.verify_hostname.is_some()),
            ];
            if let Some((f, _)) = tls_fields.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "field `{f}` needs TLS: `protocol = \"ssl\"` or `\"sasl_ssl\"`, not `\"{}\"`",
                    p.name()
                ));
            }
        }
        let token = match (p.sasl(), self.mechanism) {
            (true, None) => {
                return Err(format!(
                    "`protocol = \"{}\"` needs `mechanism` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)",
                    p.name()
                ));
            }
            (false, Some(m)) => {
                return Err(format!(
                    "field `mechanism` (`{}`) needs `protocol = \"sasl_ssl\"` or `\"sasl_plaintext\"`",
                    m.name()
                ));
            }
            (false, None) => {
                self.none_of(&["username", "password", "password_env", "password_file"])?;
                None
            }
            (true, Some(m)) => {
                props.push(("sasl.mechanism", Value::Plain(m.name().into())));
                if m == Mechanism::OauthBearer {
                    self.oauthbearer(base, &mut props, has_feature)?
                } else {
                    self.user_and_password(base, &mut props)?;
                    None
                }
            }
        };
        if !matches!(self.mechanism, Some(Mechanism::OauthBearer)) {
            self.none_of(&[
                "token_env",
                "token_file",
                "oidc_token_url",
                "oidc_client_id",
            ])?;
        }
        Ok(Security {
            properties: props,
            token,
        })
    }

    fn user_and_password(
        &self,
        base: &Path,
        props: &mut Vec<(&'static str, Value)>,
    ) -> Result<(), String> {
        let user = self
            .username
            .as_ref()
            .ok_or("this mechanism needs `username`")?;
        let password = one_secret(
            "password",
            self.password.as_ref(),
            &self.password_env,
            &self.password_file,
            base,
        )?
        .ok_or("this mechanism needs `password_env` or `password_file`")?;
        if self.password.is_some() {
            tracing::warn!(
                "[kafka.security]: the password is written in the config file; `password_env` or `password_file` keeps it out of the file"
            );
        }
        props.push(("sasl.username", Value::Plain(user.clone())));
        props.push(("sasl.password", Value::Secret(password)));
        Ok(())
    }

    fn oauthbearer(
        &self,
        base: &Path,
        props: &mut Vec<(&'static str, Value)>,
        has_feature: HasFeature,
    ) -> Result<Option<StaticToken>, String> {
        let token = one_secret("token", None, &self.token_env, &self.token_file, base)?;
        let oidc = self.oidc_token_url.is_some() || self.oidc_client_id.is_some();
        match (token, oidc) {
            (Some(_), true) => Err(
                "OAUTHBEARER takes either a token (`token_env`/`token_file`) or OIDC client credentials (`oidc_*`), not both".into(),
            ),
            (Some(token), false) => Ok(Some(StaticToken {
                token,
                principal: self.username.clone().unwrap_or_else(|| "streamplug".into()),
            })),
            (None, true) => {
                if !has_feature("oidc") {
                    return Err(
                        "OIDC client credentials (`oidc_*`) need a librdkafka built with `oidc` (curl) in its builtin.features, and this build has none (see `streamplug version`); use `token_env`/`token_file` with a token obtained elsewhere".into(),
                    );
                }
                let url = self
                    .oidc_token_url
                    .as_ref()
                    .ok_or("OIDC needs `oidc_token_url`")?;
                let id = self
                    .oidc_client_id
                    .as_ref()
                    .ok_or("OIDC needs `oidc_client_id`")?;
                let secret = one_secret(
                    "oidc_client_secret",
                    None,
                    &self.oidc_client_secret_env,
                    &self.oidc_client_secret_file,
                    base,
                )?
                .ok_or("OIDC needs `oidc_client_secret_env` or `oidc_client_secret_file`")?;
                props.push(("sasl.oauthbearer.method", Value::Plain("oidc".into())));
                props.push(("sasl.oauthbearer.token.endpoint.url", Value::Plain(url.clone())));
                props.push(("sasl.oauthbearer.client.id", Value::Plain(id.clone())));
                props.push(("sasl.oauthbearer.client.secret", Value::Secret(secret)));
                if let Some(scope) = &self.oidc_scope {
                    props.push(("sasl.oauthbearer.scope", Value::Plain(scope.clone())));
                }
                Ok(None)
            }
            (None, false) => Err(
                "OAUTHBEARER needs a token (`token_env` or `token_file`) or OIDC client credentials (`oidc_token_url`, `oidc_client_id`, `oidc_client_secret_env`)".into(),
            ),
        }
    }

    /// Refuses fields that mean nothing with the rest of the table.
    fn none_of(&self, fields: &[&str]) -> Result<(), String> {
        for f in fields {
            let set = match *f {
                "username" => self.username.is_some(),
                "password" => self.password.is_some(),
                "password_env" => self.password_env.is_some(),
                "password_file" => self.password_file.is_some(),
                "key_password_env" => self.key_password_env.is_some(),
                "key_password_file" => self.key_password_file.is_some(),
                "token_env" => self.token_env.is_some(),
                "token_file" => self.token_file.is_some(),
                "oidc_token_url" => self.oidc_token_url.is_some(),
                "oidc_client_id" => self.oidc_client_id.is_some(),
                _ => false,
            };
            if set {
                return Err(format!(
                    "field `{f}` does not apply with protocol `{}` and mechanism {}",
                    self.protocol.name(),
                    self.mechanism.map_or("(none)", Mechanism::name)
                ));
            }
        }
        Ok(())
    }
}

/// At most one of `<name>` (inline), `<name>_env` and `<name>_file`, loaded.
pub(super) fn one_secret(
    name: &str,
    inline: Option<&Secret>,
    env: &Option<String>,
    file: &Option<PathBuf>,
    base: &Path,
) -> Result<Option<Secret>, String> {
    let given =
        usize::from(inline.is_some()) + usize::from(env.is_some()) + usize::from(file.is_some());
    if given > 1 {
        return Err(format!(
            "give only one of `{name}`, `{name}_env` and `{name}_file`"
        ));
    }
    if let Some(s) = inline {
        return Ok(Some(s.clone()));
    }
    if let Some(var) = env {
        return Secret::from_env(var)
            .map(Some)
            .map_err(|e| format!("field `{name}_env`: {e}"));
    }
    if let Some(path) = file {
        return Secret::from_file(&base.join(path))
            .map(Some)
            .map_err(|e| format!("field `{name}_file`: {e}"));
    }
    Ok(None)
}
