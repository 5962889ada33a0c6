//! Why a TLS connection to the brokers fails, in plain words. librdkafka
//! says "certificate verify failed" alike for an unknown CA and a hostname
//! mismatch, and a broker that refuses the client certificate may only
//! close the connection; one handshake of our own with the same settings
//! tells them apart.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::X509;
use rdkafka::config::ClientConfig;

const TIMEOUT: Duration = Duration::from_secs(3);

/// Whether `client` connects over TLS.
pub fn uses_tls(client: &ClientConfig) -> bool {
    client
        .get("security.protocol")
        .is_some_and(|p| p.eq_ignore_ascii_case("ssl") || p.eq_ignore_ascii_case("sasl_ssl"))
}

/// A client certificate that cannot be valid now: said before connecting,
/// since brokers answer it with no more than a closed connection.
pub fn client_certificate_problem(client: &ClientConfig) -> Option<String> {
    let path = client.get("ssl.certificate.location")?;
    let pem = std::fs::read(path).ok()?;
    let cert = X509::from_pem(&pem).ok()?;
    let now = Asn1Time::days_from_now(0).ok()?;
    if cert.not_after() < now {
        return Some(format!(
            "client certificate expired: {path} was valid until {}",
            cert.not_after()
        ));
    }
    if cert.not_before() > now {
        return Some(format!(
            "client certificate not yet valid: {path} is valid from {}",
            cert.not_before()
        ));
    }
    None
}

/// Connects to the first broker of `bootstrap` with `client`'s TLS settings
/// and names what goes wrong, if anything does.
pub fn diagnose(client: &ClientConfig, bootstrap: &str) -> Option<String> {
    let first = bootstrap.split(',').next()?.trim();
    let host = first.rsplit_once(':').map_or(first, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = first.to_socket_addrs().ok()?.next()?;
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).ok()?;
    tcp.set_read_timeout(Some(TIMEOUT)).ok()?;
    tcp.set_write_timeout(Some(TIMEOUT)).ok()?;
    let connector = connector(client).ok()?;
    let verify_host = client.get("ssl.endpoint.identification.algorithm") != Some("none");
    let mut config = connector.configure().ok()?;
    config.set_verify_hostname(verify_host);
    config.set_use_server_name_indication(verify_host);
    match config.connect(host, tcp) {
        Ok(mut stream) => {
            // With TLS 1.3 the broker judges the client certificate after
            // the handshake: its refusal arrives as an alert on first read.
            let mut byte = [0u8; 1];
            match stream.ssl_read(&mut byte) {
                Err(e) if e.ssl_error().is_some() => {
                    Some(format!("the broker refused the TLS connection: {e}"))
                }
                _ => None,
            }
        }
        Err(openssl::ssl::HandshakeError::Failure(mid)) => {
            let verify = mid.ssl().verify_result();
            if verify != openssl::x509::X509VerifyResult::OK {
                Some(plain_verify_error(verify, host))
            } else {
                Some(format!("the TLS handshake failed: {}", mid.error()))
            }
        }
        Err(_) => None,
    }
}

fn plain_verify_error(verify: openssl::x509::X509VerifyResult, host: &str) -> String {
    // OpenSSL's X509_V_ERR_* codes (x509_vfy.h).
    const CERT_HAS_EXPIRED: i32 = 10;
    const HOSTNAME_MISMATCH: i32 = 62;
    const IP_ADDRESS_MISMATCH: i32 = 64;
    let text = verify.error_string();
    match verify.as_raw() {
        HOSTNAME_MISMATCH | IP_ADDRESS_MISMATCH => format!(
            "hostname mismatch: the broker's certificate is not for `{host}` (`verify_hostname`)"
        ),
        CERT_HAS_EXPIRED => {
            format!("the broker's certificate has expired ({text})")
        }
        _ => format!(
            "certificate not trusted: the broker's certificate does not chain to a trusted CA ({text}; `ca_file`)"
        ),
    }
}

fn connector(client: &ClientConfig) -> Result<SslConnector, openssl::error::ErrorStack> {
    let mut b = SslConnector::builder(SslMethod::tls_client())?;
    b.set_verify(SslVerifyMode::PEER);
    if let Some(ca) = client.get("ssl.ca.location") {
        b.set_ca_file(ca)?;
    }
    if let (Some(cert), Some(key)) = (
        client.get("ssl.certificate.location"),
        client.get("ssl.key.location"),
    ) {
        b.set_certificate_chain_file(cert)?;
        if let Some(pw) = client.get("ssl.key.password") {
            let pem = std::fs::read(key).unwrap_or_default();
            let pkey = openssl::pkey::PKey::private_key_from_pem_passphrase(&pem, pw.as_bytes())?;
            b.set_private_key(&pkey)?;
        } else {
            b.set_private_key_file(key, SslFiletype::PEM)?;
        }
    }
    Ok(b.build())
}
