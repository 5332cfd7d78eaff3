//! The text encodings users really send: UTF-8 with or without a byte-order mark (Excel's "CSV
//! UTF-8" and Windows Notepad write one), and UTF-16/UTF-32 (PowerShell's `>` and Excel's
//! "Unicode text"), which pzbench does not read but names, with the fix. Every reader of a text
//! file a user may have edited (tables, policy TOML, baseline and leaderboard JSON, `--nz` tables)
//! goes through here, so they all say the same thing.

use std::path::Path;

use crate::{Error, Result};

/// The UTF-8 byte-order mark.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `bytes` without a leading UTF-8 byte-order mark.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// `text` without a leading byte-order mark (U+FEFF).
pub fn strip_bom_str(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The wide Unicode encoding the first bytes of a file are in, if they are not UTF-8: a UTF-16 or
/// UTF-32 byte-order mark, or ASCII text saved as UTF-16 without one (every other byte NUL).
pub fn wide_encoding(head: &[u8]) -> Option<&'static str> {
    match head {
        [0xFF, 0xFE, 0, 0, ..] => Some("UTF-32 LE"),
        [0, 0, 0xFE, 0xFF, ..] => Some("UTF-32 BE"),
        [0xFF, 0xFE, ..] => Some("UTF-16 LE"),
        [0xFE, 0xFF, ..] => Some("UTF-16 BE"),
        [a, 0, b, 0, ..] if *a != 0 && *b != 0 => Some("UTF-16 LE"),
        [0, a, 0, b, ..] if *a != 0 && *b != 0 => Some("UTF-16 BE"),
        [a, 0] if *a != 0 => Some("UTF-16 LE"),
        [0, a] if *a != 0 => Some("UTF-16 BE"),
        _ => None,
    }
}

/// The error for a file in `encoding` ([`wide_encoding`]).
pub fn wide_encoding_error(path: &Path, encoding: &str) -> Error {
    Error::file(
        path,
        format!(
            "the file is {encoding} text, which pzbench does not read; save it as UTF-8 (e.g. `iconv -f {} -t UTF-8 FILE > NEW`, or \"CSV UTF-8\" in Excel)",
            encoding.split(' ').next().unwrap_or(encoding)
        ),
    )
}

/// Check that `bytes`, the start of the file at `path`, is not UTF-16/UTF-32 text.
pub fn check_not_wide(path: &Path, bytes: &[u8]) -> Result<()> {
    match wide_encoding(bytes) {
        Some(encoding) => Err(wide_encoding_error(path, encoding)),
        None => Ok(()),
    }
}

/// The text of a whole file's `bytes` (read from `path`): a UTF-8 byte-order mark is dropped,
/// UTF-16/UTF-32 and other non-UTF-8 text are refused with one line naming the line at fault and
/// the fix.
pub fn decode_utf8(path: &Path, mut bytes: Vec<u8>) -> Result<String> {
    check_not_wide(path, &bytes)?;
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        Error::file(
            path,
            format!(
                "line {line} is not UTF-8 text (byte 0x{:02X}); save the file as UTF-8",
                bytes.get(at).copied().unwrap_or_default()
            ),
        )
        .caused_by(e.utf8_error())
    })
}

/// Read the text file at `path` as [`decode_utf8`] does. `what` says what the file is for in the
/// message of a file that cannot be read (e.g. "the policy").
pub fn read_utf8(path: &Path, what: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read {what}: {e}")).caused_by(e))?;
    decode_utf8(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut units: Vec<u16> = text.encode_utf16().collect();
        if bom {
            units.insert(0, 0xFEFF);
        }
        units.iter().flat_map(|u| if big_endian { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
    }

    #[test]
    fn boms_are_dropped_and_wide_encodings_named() {
        let path = Path::new("p.toml");
        assert_eq!(decode_utf8(path, b"\xEF\xBB\xBFa = 1\n".to_vec()).unwrap(), "a = 1\n");
        assert_eq!(decode_utf8(path, b"a = 1\r\n".to_vec()).unwrap(), "a = 1\r\n");
        assert_eq!(strip_bom_str("\u{feff}x"), "x");
        assert_eq!(strip_bom(b"\xEF\xBB\xBFx"), b"x");
        for (big, bom, name) in [
            (false, true, "UTF-16 LE"),
            (false, false, "UTF-16 LE"),
            (true, true, "UTF-16 BE"),
            (true, false, "UTF-16 BE"),
        ] {
            let err = decode_utf8(path, utf16("object_id,z\n", big, bom)).unwrap_err().to_string();
            assert!(err.starts_with(&format!("p.toml: the file is {name} text")), "{err}");
            assert!(err.contains("save it as UTF-8") && !err.contains('\n'), "{err}");
        }
        assert_eq!(wide_encoding(b"\xFF\xFE\0\0a\0\0\0"), Some("UTF-32 LE"));
        assert_eq!(wide_encoding(b"a\0"), Some("UTF-16 LE"));
        assert_eq!(wide_encoding(b"ab"), None);
        assert_eq!(wide_encoding(b"\x89HDF"), None);
        let err = decode_utf8(path, b"a = 1\nb = \"caf\xE9\"\n".to_vec()).unwrap_err().to_string();
        assert_eq!(err, "p.toml: line 2 is not UTF-8 text (byte 0xE9); save the file as UTF-8");
    }
}
