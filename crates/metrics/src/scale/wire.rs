//! The byte format of requests and partials: a 7-byte header — the magic `PZXS`, the format
//! version (`u16`, little-endian) and the kind (1 request, 2 partial) — then the body in postcard
//! (serde's compact binary format: varints, no field names). Fingerprints are the first 8 bytes
//! of a SHA-256 of postcard bytes, so they are the same on every platform and version of Rust.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::request::{Plan, Replicates};
use crate::{Bins, Error, Result};

const MAGIC: &[u8; 4] = b"PZXS";
/// Raise whenever the body's layout changes.
const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = MAGIC.len() + 3;

/// What the bytes hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Request = 1,
    Partial = 2,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Request => "pass request",
            Kind::Partial => "pass partial",
        }
    }
}

/// Header and postcard body of `value`.
pub(super) fn encode(kind: Kind, value: &impl Serialize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + 64);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.push(kind as u8);
    // Writing to a Vec fails only for types serde cannot express, and these are plain data.
    postcard::to_extend(value, bytes).unwrap_or_default()
}

/// The value of bytes written by [`encode`] with the same `kind`.
pub(super) fn decode<T: DeserializeOwned>(kind: Kind, bytes: &[u8]) -> Result<T> {
    let what = kind.name();
    if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err(Error::scale(format!("not a pzbench {what}: the bytes do not start with the magic 'PZXS'")));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != FORMAT_VERSION {
        return Err(Error::scale(format!(
            "a pzbench {what} of format version {version}, but this pzbench reads version {FORMAT_VERSION}; \
             run every pass with the same pzbench version"
        )));
    }
    if bytes[6] != kind as u8 {
        let other = if kind == Kind::Request { Kind::Partial } else { Kind::Request };
        return Err(Error::scale(format!("expected a pzbench {what} but got a {}", other.name())));
    }
    let (value, rest) = postcard::take_from_bytes(&bytes[HEADER_LEN..])
        .map_err(|e| Error::scale(format!("a corrupt pzbench {what}: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::scale(format!("a corrupt pzbench {what}: {} bytes after its end", rest.len())));
    }
    Ok(value)
}

/// The first 8 bytes of the SHA-256 of `value`'s postcard bytes.
fn fingerprint(value: &impl Serialize) -> u64 {
    let bytes = postcard::to_stdvec(value).unwrap_or_default();
    let hash = Sha256::digest(&bytes);
    u64::from_le_bytes([hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7]])
}

/// The fingerprint of a run: its bins and bootstrap settings.
pub(super) fn run_fingerprint(bins: &Bins, replicates: &Option<Replicates>) -> u64 {
    fingerprint(&(bins, replicates))
}

/// The fingerprint of one pass's plan.
pub(super) fn plan_digest(plan: &Plan) -> u64 {
    fingerprint(plan)
}
