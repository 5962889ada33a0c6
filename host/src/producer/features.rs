//! What the librdkafka linked in can do (`builtin.features`) and its version.

use std::sync::OnceLock;

use rdkafka::config::ClientConfig;

/// librdkafka's `builtin.features`, e.g. `gzip,snappy,ssl,sasl,...,zstd`.
pub fn builtin() -> &'static str {
    static FEATURES: OnceLock<String> = OnceLock::new();
    FEATURES.get_or_init(|| {
        ClientConfig::new()
            .create_native_config()
            .and_then(|c| c.get("builtin.features"))
            .unwrap_or_default()
    })
}

/// Whether `feature` is one of librdkafka's `builtin.features`.
pub fn has(feature: &str) -> bool {
    builtin().split(',').any(|f| f == feature)
}

/// librdkafka's version, e.g. `2.12.1`.
pub fn librdkafka_version() -> String {
    rdkafka::util::get_rdkafka_version().1
}
