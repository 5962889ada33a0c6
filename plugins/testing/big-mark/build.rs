//! Generates enough distinct functions to make this plugin a component of
//! about 1 MB of code, so that swap latency is measured on a realistically
//! large plugin (compile time grows with code, not with data).

use std::fmt::Write as _;

const FUNCTIONS: usize = 4000;

fn main() {
    let mut code = String::new();
    for i in 0..FUNCTIONS {
        let _ = writeln!(
            code,
            "#[inline(never)] fn f{i}(x: u64) -> u64 {{ \
             let mut v = x ^ {a}; \
             for _ in 0..(x & 3) {{ v = v.rotate_left({r}).wrapping_mul({m}) ^ (v >> {s}); \
             if v.is_multiple_of({d}) {{ v = v.wrapping_add({a}); }} else {{ v = v.wrapping_sub({b}); }} }} \
             v }}",
            a = 0x9E37_79B9_u64.wrapping_mul(i as u64 + 1),
            b = 0x85EB_CA6B_u64 ^ i as u64,
            r = i % 63 + 1,
            m = (i as u64) * 2 + 1,
            s = i % 31 + 1,
            d = i % 97 + 2,
        );
    }
    let _ = writeln!(
        code,
        "pub static FUNCTIONS: [fn(u64) -> u64; {FUNCTIONS}] = ["
    );
    for i in 0..FUNCTIONS {
        let _ = write!(code, "f{i},");
    }
    let _ = writeln!(code, "];");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("big.rs");
    std::fs::write(out, code).expect("write generated code");
}
