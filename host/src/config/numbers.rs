//! The config's numeric fields, read with errors in words: serde's own
//! would say `expected i16` or `expected u64`, the Rust type, where a user
//! needs to know what to write (`a whole number from 1 to 32767`).

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Unexpected, Visitor};

use super::ByteSize;

/// Accepts an integer within `min..=max`, described as `what`.
struct Whole {
    min: i128,
    max: i128,
}

impl Visitor<'_> for Whole {
    type Value = i128;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.max >= i128::from(u64::MAX) {
            write!(f, "a whole number, {} or more", self.min)
        } else {
            write!(f, "a whole number from {} to {}", self.min, self.max)
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        let v128 = i128::from(v);
        if (self.min..=self.max).contains(&v128) {
            Ok(v128)
        } else {
            Err(E::invalid_value(Unexpected::Signed(v), &self))
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        let v128 = i128::from(v);
        if (self.min..=self.max).contains(&v128) {
            Ok(v128)
        } else {
            Err(E::invalid_value(Unexpected::Unsigned(v), &self))
        }
    }
}

fn whole<'de, D, T>(d: D, min: T, max: T) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Into<i128> + TryFrom<i128>,
{
    let v = d.deserialize_any(Whole {
        min: min.into(),
        max: max.into(),
    })?;
    // Within `min..=max`, so it fits.
    T::try_from(v).map_err(|_| de::Error::custom("number out of range"))
}

/// Milliseconds, counts and other whole numbers from 0 up.
pub fn any_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    whole(d, 0, u64::MAX)
}

pub fn any_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    whole(d, 0, u32::MAX)
}

pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    any_u32(d).map(Some)
}

/// A topic's partition count.
pub fn partitions<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    whole(d, 1, i32::MAX)
}

/// A topic's replication factor.
pub fn replication<'de, D: Deserializer<'de>>(d: D) -> Result<i16, D::Error> {
    whole(d, 1, i16::MAX)
}

/// A size: a whole number of bytes, or a string such as `"64MiB"`.
struct Size;

impl Visitor<'_> for Size {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size: a whole number of bytes, or a string such as \"64MiB\"")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
        u64::try_from(v)
            .map(ByteSize)
            .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
        v.parse().map_err(E::custom)
    }
}

pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
    d.deserialize_any(Size)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct T {
        #[serde(default, deserialize_with = "super::replication")]
        r: i16,
        #[serde(default, deserialize_with = "super::any_u64")]
        ms: u64,
        #[serde(default, deserialize_with = "super::opt_u32")]
        rate: Option<u32>,
    }

    fn err(text: &str) -> String {
        toml::from_str::<T>(text).unwrap_err().to_string()
    }

    #[test]
    fn wrong_types_and_ranges_are_said_in_words() {
        let e = err("r = \"three\"");
        assert!(
            e.contains("invalid type: string \"three\", expected a whole number from 1 to 32767"),
            "{e}"
        );
        let e = err("r = 0");
        assert!(
            e.contains("invalid value: integer `0`, expected a whole number from 1 to 32767"),
            "{e}"
        );
        let e = err("ms = -1");
        assert!(e.contains("expected a whole number, 0 or more"), "{e}");
        let e = err("rate = 1.5");
        assert!(
            e.contains("expected a whole number from 0 to 4294967295"),
            "{e}"
        );
        let t: T = toml::from_str("r = 3\nms = 7\nrate = 9").expect("valid");
        assert_eq!((t.r, t.ms, t.rate), (3, 7, Some(9)));
    }
}
