//! Byte mutations of valid seed files, AFL-style: bit flips, random and "interesting" bytes and
//! integers (0, -1, 2^k ± 1 in 1, 2, 4 and 8 bytes, either byte order), small arithmetic, byte
//! insertions and deletions, duplicated ranges, chunks spliced from another seed, truncation, and
//! for text formats tokens (delimiters, quotes, line ends, a byte-order mark, NUL, `NaN`, huge
//! numbers), numbers replaced by interesting ones and lines duplicated, deleted, swapped or
//! repeated. One to sixteen mutations are stacked per input.
//!
//! Every input is a pure function of `(seed, target, index)` ([`input_rng`]), so a finding is
//! reproduced from its three numbers (`pzbench-fuzz replay`).

use std::ops::Range;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A valid file to mutate.
#[derive(Debug, Clone)]
pub struct Seed {
    /// What it is (for messages), e.g. `"csv, CRLF"`.
    pub name: String,
    pub bytes: Vec<u8>,
    /// Where the structure lives (a Parquet footer, a safetensors header): half of the mutations
    /// land there when given.
    pub hot: Option<Range<usize>>,
    /// Whether text mutations (tokens, numbers, lines) apply.
    pub text: bool,
}

impl Seed {
    /// A text seed.
    pub fn text(name: &str, text: impl Into<Vec<u8>>) -> Self {
        Seed { name: name.to_string(), bytes: text.into(), hot: None, text: true }
    }

    /// A binary seed with its structural region.
    pub fn binary(name: &str, bytes: Vec<u8>, hot: Option<Range<usize>>) -> Self {
        Seed { name: name.to_string(), bytes, hot, text: false }
    }
}

/// One mutated input.
#[derive(Debug, Clone)]
pub struct Input {
    /// The seed it was made from (an index into the target's seeds).
    pub seed: usize,
    pub bytes: Vec<u8>,
    /// Random bits for the target's own choices (which columns to ask for, whether to fix a
    /// checksum up, ...).
    pub variant: u64,
}

/// The random stream of input `index` of `target` in the run seeded `seed`.
pub fn input_rng(seed: u64, target: &str, index: u64) -> ChaCha8Rng {
    // FNV-1a of the target's name, mixed with the seed and the index by splitmix64 steps.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in target.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    ChaCha8Rng::seed_from_u64(mix(mix(mix(h) ^ seed) ^ index))
}

/// Input `index` of `target` in the run seeded `seed`, made from `seeds`.
pub fn generate(seeds: &[Seed], seed: u64, target: &str, index: u64) -> Input {
    let mut rng = input_rng(seed, target, index);
    let which = rng.random_range(0..seeds.len());
    let variant = rng.random();
    let bytes = mutate(seeds, which, &mut rng);
    Input { seed: which, bytes, variant }
}

const INTERESTING_BYTES: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'\n', b'\r', b'\t', b' ', b',', b';', b'"', b'#', b'-', b'.', b'e', b'0', b'9', b'{', b'[',
];

const INTERESTING_INTS: &[i64] = &[
    0,
    1,
    -1,
    2,
    16,
    32,
    64,
    100,
    127,
    128,
    255,
    256,
    1000,
    1024,
    4096,
    32767,
    32768,
    65535,
    65536,
    100_000,
    i32::MAX as i64,
    i32::MIN as i64,
    u32::MAX as i64,
    1 << 32,
    1 << 40,
    1 << 48,
    i64::MAX,
    i64::MIN,
];

/// Tokens inserted into text.
const TOKENS: &[&str] = &[
    ",",
    "\t",
    " ",
    ";",
    "|",
    "\n",
    "\r\n",
    "\r",
    "\"",
    "'",
    "#",
    "-",
    "+",
    ".",
    "e",
    "E",
    "0",
    "\u{feff}",
    "\0",
    "\\",
    "\\u0000",
    "é",
    "１",
    "\u{2028}",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "null",
    "true",
    "{",
    "}",
    "[",
    "]",
    ":",
    "=",
    "[[",
    "\"\"",
    "object_id",
    "z_spec",
    "z_phot",
    "id",
    "redshift",
    "cnn",
    "nn",
    "image_size",
    "n_mags",
    "entries",
    "metrics",
    "resamples",
];

/// Numbers that replace numbers in text.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "-2",
    "0.5",
    "-0.999",
    "-1.0",
    "-1.5",
    "99",
    "127",
    "255",
    "256",
    "32768",
    "65536",
    "2147483648",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "99999999999999999999999",
    "1e308",
    "1e309",
    "-1e308",
    "1e-308",
    "5e-324",
    "1e-400",
    "3.4028236e38",
    "1.7976931348623157e308",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e6",
    "1000000000",
    "0x10",
    "1_000",
    "00",
    ".5",
    "5.",
    "+5",
];

/// Mutate `seeds[which]`: one to sixteen stacked mutations.
pub fn mutate(seeds: &[Seed], which: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let seed = &seeds[which];
    let mut data = seed.bytes.clone();
    let mut n = 1;
    while n < 16 && rng.random_bool(0.5) {
        n += 1;
    }
    for _ in 0..n {
        let text = seed.text || rng.random_bool(0.1);
        let op = rng.random_range(0..if text { 20 } else { 13 });
        let pos = position(&data, seed.hot.as_ref(), rng);
        match op {
            0 | 1 => {
                if let Some(b) = data.get_mut(pos) {
                    *b ^= 1 << rng.random_range(0..8);
                }
            }
            2 => {
                if let Some(b) = data.get_mut(pos) {
                    *b = rng.random();
                }
            }
            3 => {
                if let Some(b) = data.get_mut(pos) {
                    *b = INTERESTING_BYTES[rng.random_range(0..INTERESTING_BYTES.len())];
                }
            }
            4 => {
                let k = rng.random_range(1..=8);
                let bytes: Vec<u8> = (0..k)
                    .map(|_| {
                        if rng.random_bool(0.5) {
                            rng.random()
                        } else {
                            INTERESTING_BYTES[rng.random_range(0..INTERESTING_BYTES.len())]
                        }
                    })
                    .collect();
                splice(&mut data, pos..pos, &bytes);
            }
            5 => {
                let len = rng.random_range(1..=64).min(data.len().saturating_sub(pos));
                data.drain(pos..pos + len);
            }
            6 => {
                // Duplicate a range (possibly a long one) somewhere else.
                if !data.is_empty() {
                    let from = rng.random_range(0..data.len());
                    let len = rng.random_range(1..=256).min(data.len() - from);
                    let chunk = data[from..from + len].to_vec();
                    splice(&mut data, pos..pos, &chunk);
                }
            }
            7 => {
                // Splice a chunk of another seed (or this one) over this position.
                let other = &seeds[rng.random_range(0..seeds.len())].bytes;
                if !other.is_empty() {
                    let from = rng.random_range(0..other.len());
                    let len = rng.random_range(1..=512).min(other.len() - from);
                    let over = rng.random_range(0..=len).min(data.len() - pos);
                    splice(&mut data, pos..pos + over, &other[from..from + len]);
                }
            }
            8 => {
                if rng.random_bool(0.3) {
                    data.truncate(pos);
                }
            }
            9 | 10 => {
                let width = [1usize, 2, 4, 8][rng.random_range(0..4)];
                let value = INTERESTING_INTS[rng.random_range(0..INTERESTING_INTS.len())];
                let little = rng.random_bool(0.5);
                let full = if little { value.to_le_bytes() } else { value.to_be_bytes() };
                let part = if little { &full[..width] } else { &full[8 - width..] };
                if pos + width <= data.len() {
                    data[pos..pos + width].copy_from_slice(part);
                }
            }
            11 => {
                // Small arithmetic on a little-endian integer of 1, 2 or 4 bytes.
                let width = [1usize, 2, 4][rng.random_range(0..3)];
                if pos + width <= data.len() {
                    let mut buf = [0u8; 4];
                    buf[..width].copy_from_slice(&data[pos..pos + width]);
                    let delta = rng.random_range(1..=35u32);
                    let v = u32::from_le_bytes(buf);
                    let v = if rng.random_bool(0.5) { v.wrapping_add(delta) } else { v.wrapping_sub(delta) };
                    data[pos..pos + width].copy_from_slice(&v.to_le_bytes()[..width]);
                }
            }
            12 => {
                // Overwrite a run with a copy of nearby bytes (shifts structure by a little).
                if data.len() > 2 {
                    let from = rng.random_range(0..data.len());
                    let len = rng.random_range(1..=16).min(data.len() - from).min(data.len() - pos);
                    let chunk = data[from..from + len].to_vec();
                    data[pos..pos + len].copy_from_slice(&chunk);
                }
            }
            13 | 14 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())].as_bytes();
                let over = if rng.random_bool(0.5) { 0 } else { rng.random_range(0..=2).min(data.len() - pos) };
                splice(&mut data, pos..pos + over, token);
            }
            15 | 16 => replace_number(&mut data, pos, rng),
            17 => line_op(&mut data, rng),
            18 => {
                // Swap one word (a run of letters, digits and `_`) for another of the file.
                let words = word_spans(&data);
                if words.len() >= 2 {
                    let a = words[rng.random_range(0..words.len())].clone();
                    let b = words[rng.random_range(0..words.len())].clone();
                    let replacement = data[b].to_vec();
                    splice(&mut data, a, &replacement);
                }
            }
            _ => {
                // Repeat the whole input's tail or a line many times.
                if !data.is_empty() {
                    let from = rng.random_range(0..data.len());
                    let len = rng.random_range(1..=64).min(data.len() - from);
                    let chunk = data[from..from + len].to_vec();
                    let times = rng.random_range(2..=200);
                    let repeated: Vec<u8> = chunk.iter().copied().cycle().take(len * times).collect();
                    splice(&mut data, pos..pos, &repeated);
                }
            }
        }
    }
    data
}

/// A position in `data` (or at its end), in the hot region half of the time.
fn position(data: &[u8], hot: Option<&Range<usize>>, rng: &mut ChaCha8Rng) -> usize {
    match hot {
        Some(hot) if rng.random_bool(0.5) && hot.start < data.len() => {
            rng.random_range(hot.start..hot.end.clamp(hot.start + 1, data.len()))
        }
        _ => rng.random_range(0..=data.len()),
    }
}

fn splice(data: &mut Vec<u8>, range: Range<usize>, with: &[u8]) {
    let end = range.end.min(data.len());
    let start = range.start.min(end);
    data.splice(start..end, with.iter().copied());
}

/// Replace the number at or after `pos` (a run of digits, signs, dots and exponents) by an
/// interesting one.
fn replace_number(data: &mut Vec<u8>, pos: usize, rng: &mut ChaCha8Rng) {
    let is_num = |b: u8| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E');
    let Some(start) = data[pos.min(data.len())..].iter().position(|b| b.is_ascii_digit()).map(|p| pos + p) else {
        return;
    };
    let mut s = start;
    while s > 0 && is_num(data[s - 1]) {
        s -= 1;
    }
    let mut e = start;
    while e < data.len() && is_num(data[e]) {
        e += 1;
    }
    let number = NUMBERS[rng.random_range(0..NUMBERS.len())].as_bytes();
    splice(data, s..e, number);
}

/// Duplicate, delete, swap or repeat lines.
fn line_op(data: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    let mut lines: Vec<Vec<u8>> = data.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.is_empty() {
        return;
    }
    let a = rng.random_range(0..lines.len());
    let b = rng.random_range(0..lines.len());
    match rng.random_range(0..4) {
        0 => {
            let line = lines[a].clone();
            lines.insert(b, line);
        }
        1 => {
            lines.remove(a);
        }
        2 => lines.swap(a, b),
        _ => {
            let line = lines[a].clone();
            let times = rng.random_range(2..=300);
            for _ in 0..times {
                lines.insert(a, line.clone());
            }
        }
    }
    *data = lines.concat();
}

/// The spans of words (ASCII letters, digits, `_`) in `data`.
fn word_spans(data: &[u8]) -> Vec<Range<usize>> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut spans = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if is_word(data[i]) {
            let start = i;
            while i < data.len() && is_word(data[i]) {
                i += 1;
            }
            spans.push(start..i);
        } else {
            i += 1;
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_reproducible_and_varied() {
        let seeds = [Seed::text("csv", "object_id,z_spec,z_phot\n1,0.1,0.2\n"), Seed::binary("bin", vec![7; 64], None)];
        let a = generate(&seeds, 3, "text", 17);
        let b = generate(&seeds, 3, "text", 17);
        assert_eq!((a.seed, &a.bytes, a.variant), (b.seed, &b.bytes, b.variant));
        let distinct: std::collections::HashSet<Vec<u8>> =
            (0..200).map(|i| generate(&seeds, 3, "text", i).bytes).collect();
        assert!(distinct.len() > 150, "{}", distinct.len());
        assert_ne!(generate(&seeds, 4, "text", 17).bytes, a.bytes);
    }
}
