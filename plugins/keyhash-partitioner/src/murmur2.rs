//! Kafka's murmur2, exactly as `org.apache.kafka.common.utils.Utils.murmur2`
//! (which the Java client's default partitioner uses for keyed records).
//! Plain Rust with no dependencies: it is tested natively.

/// The 32-bit murmur2 hash of `data` with Kafka's seed `0x9747b28c`, as the
/// bits of Java's signed `int`.
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java: `int h = seed ^ length` (the length as a 32-bit int).
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    // Java's switch falls through: case 3, then 2, then 1 (which multiplies).
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// The Java client's partition for a keyed record:
/// `Utils.toPositive(Utils.murmur2(key)) % numPartitions`.
///
/// # Panics
/// If `partition_count` is 0.
pub fn partition_for_key(key: &[u8], partition_count: u32) -> u32 {
    (murmur2(key) & 0x7fff_ffff) % partition_count
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `org.apache.kafka.common.utils.UtilsTest.testMurmur2`: input, Java `int`.
    const KAFKA_VECTORS: [(&str, i32); 6] = [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        ("abc", 479_470_107),
    ];

    #[test]
    fn matches_kafka_vectors() {
        for (input, expected) in KAFKA_VECTORS {
            assert_eq!(
                murmur2(input.as_bytes()) as i32,
                expected,
                "murmur2({input:?})"
            );
        }
    }

    #[test]
    fn partition_is_the_positive_hash_modulo_the_count() {
        // (-790332482 & 0x7fffffff) = 1357151166; % 50 = 16, % 7 = 5.
        assert_eq!(partition_for_key(b"foobar", 50), 16);
        assert_eq!(partition_for_key(b"foobar", 7), 1_357_151_166 % 7);
        // "abc" hashes positive: the mask changes nothing.
        assert_eq!(partition_for_key(b"abc", 1000), 479_470_107 % 1000);
        for (input, _) in KAFKA_VECTORS {
            assert!(partition_for_key(input.as_bytes(), 3) < 3);
        }
    }
}
