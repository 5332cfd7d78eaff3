//! Leaderboards: JSON files (`leaderboards/*.json`) of models scored by pzbench on one dataset,
//! ranked by any METRICS.md metric and rendered as Markdown or HTML.
//!
//! The layout is documented as a JSON Schema in `leaderboards/schema.json`; that file is embedded
//! at build time and every board is validated against it on load by [`validate`], a small
//! interpreter of exactly the keywords the schema uses (a test fails if the schema ever uses
//! another). Entry names must also be unique, which JSON Schema cannot express.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::format::{significant, TextTable};
use super::score::ScoreReport;
use super::table2::{Dataset, TABLE2_COLUMNS};
use pzbench_io::{Error, Result};
use pzbench_metrics::{Bins, METRIC_KEYS};

/// The documented schema of a board, embedded.
pub const SCHEMA: &str = include_str!("../../../leaderboards/schema.json");

/// The `format` value of boards this version writes and reads.
pub const FORMAT: &str = "pzbench-leaderboard/1";

/// Metrics ranked by their absolute value (a bias is as bad below zero as above).
const SIGNED_KEYS: [&str; 3] = ["bias", "mean_bias", "bias_bw"];

/// A leaderboard file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Board {
    /// Always [`FORMAT`].
    pub format: String,
    /// Optional heading for rendered boards (edit the file to set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub entries: Vec<Entry>,
}

/// The predictions behind an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionsRef {
    /// File name (no folders).
    pub file: String,
    pub sha256: String,
}

/// The 13 metrics of a set of galaxies as stored in a board (`null` for an empty set).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricValues {
    pub count: usize,
    pub bias: Option<f64>,
    pub mean_bias: Option<f64>,
    pub scatter: Option<f64>,
    pub sigma_iqr: Option<f64>,
    pub rms: Option<f64>,
    pub outlier_frac: Option<f64>,
    pub outlier_frac_rail: Option<f64>,
    pub mse: Option<f64>,
    pub loss: Option<f64>,
    pub bias_bw: Option<f64>,
    pub scatter_bw: Option<f64>,
    pub outlier_frac_bw: Option<f64>,
}

impl MetricValues {
    /// The value of a METRICS.md key (`count` as a float); `None` for an empty set or unknown key.
    pub fn get(&self, key: &str) -> Option<f64> {
        match key {
            "count" => Some(self.count as f64),
            "bias" => self.bias,
            "mean_bias" => self.mean_bias,
            "scatter" => self.scatter,
            "sigma_iqr" => self.sigma_iqr,
            "rms" => self.rms,
            "outlier_frac" => self.outlier_frac,
            "outlier_frac_rail" => self.outlier_frac_rail,
            "mse" => self.mse,
            "loss" => self.loss,
            "bias_bw" => self.bias_bw,
            "scatter_bw" => self.scatter_bw,
            "outlier_frac_bw" => self.outlier_frac_bw,
            _ => None,
        }
    }
}

/// One bin's metrics and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinValues {
    #[serde(flatten)]
    pub metrics: MetricValues,
    pub lo: f64,
    pub hi: f64,
}

/// `[lo, hi]` per metric key.
pub type IntervalMap = BTreeMap<String, [Option<f64>; 2]>;

/// Bootstrap intervals of an entry (the `intervals` object of `pzbench score --format json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalsRecord {
    pub method: String,
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
    pub overall: Option<IntervalMap>,
    pub per_bin: Vec<Option<IntervalMap>>,
}

/// One scored model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    /// UTC, ISO 8601 / RFC 3339, seconds: `2026-11-27T07:19:00Z`.
    pub date: String,
    pub pzbench_version: String,
    pub predictions: PredictionsRef,
    pub dataset: Dataset,
    pub bins: Bins,
    pub overall: MetricValues,
    pub per_bin: Vec<BinValues>,
    pub n_outside_bins: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<IntervalsRecord>,
}

impl Entry {
    /// An entry from a score report (its JSON, reused key for key).
    pub fn from_report(name: &str, report: &ScoreReport, dataset: Dataset, date: String) -> Result<Self> {
        let broken = |e: serde_json::Error| Error::other(format!("cannot record the score of '{name}': {e}"));
        let value = serde_json::to_value(report).map_err(broken)?;
        let field = |key: &str| value.get(key).cloned().unwrap_or(Value::Null);
        let file = Path::new(&report.input.predictions.path)
            .file_name()
            .map_or(report.input.predictions.path.clone(), |n| n.to_string_lossy().into_owned());
        Ok(Entry {
            name: name.to_string(),
            date,
            pzbench_version: pzbench_io::VERSION.to_string(),
            predictions: PredictionsRef { file, sha256: report.input.predictions.sha256.clone() },
            dataset,
            bins: report.bins.clone(),
            overall: serde_json::from_value(field("overall")).map_err(broken)?,
            per_bin: serde_json::from_value(field("per_bin")).map_err(broken)?,
            n_outside_bins: report.n_outside_bins,
            intervals: match field("intervals") {
                Value::Null => None,
                intervals => Some(serde_json::from_value(intervals).map_err(broken)?),
            },
        })
    }

    /// The overall interval of `key`, if bootstrapped.
    fn interval(&self, key: &str) -> Option<(f64, f64)> {
        let [lo, hi] = *self.intervals.as_ref()?.overall.as_ref()?.get(key)?;
        Some((lo?, hi?))
    }
}

impl Board {
    /// A board with no entries.
    pub fn new() -> Self {
        Board { format: FORMAT.to_string(), title: None, entries: Vec::new() }
    }

    /// Parse and validate a board's text (`path` names the file in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let bad = |why: String| {
            Error::file(path, format!("{why}; fix the file (layout: leaderboards/schema.json) or start a new board"))
        };
        let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        validate(&value).map_err(bad)?;
        let board: Board =
            serde_json::from_value(value).map_err(|e| bad(format!("does not match the board layout: {e}")))?;
        if let Some(name) = board.duplicate_name() {
            return Err(bad(format!("the name '{name}' appears in more than one entry; names must be unique")));
        }
        Ok(board)
    }

    /// Read and validate a board file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read the board: {e}")))?;
        Self::parse(path, &text)
    }

    /// The board as pretty JSON (validated first, so pzbench never writes a board it would reject).
    pub fn to_json(&self) -> Result<String> {
        let broken = |why: String| Error::other(format!("refusing to write an invalid board: {why}"));
        let value = serde_json::to_value(self).map_err(|e| broken(e.to_string()))?;
        validate(&value).map_err(broken)?;
        // Serialise the struct itself (not `value`) to keep the documented key order.
        let mut text = serde_json::to_string_pretty(self).map_err(|e| broken(e.to_string()))?;
        text.push('\n');
        Ok(text)
    }

    fn duplicate_name(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.entries.iter().map(|e| e.name.as_str()).find(|name| !seen.insert(*name))
    }

    /// Fail unless `name` is new on the board or `replace` is set.
    pub fn check_name_free(&self, path: &Path, name: &str, replace: bool) -> Result<()> {
        match self.entries.iter().find(|e| e.name == name) {
            Some(existing) if !replace => Err(Error::file(
                path,
                format!(
                    "an entry named '{name}' exists (added {}); pass --replace to overwrite it, or choose another --name",
                    existing.date
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Add `entry`; an entry of the same name is replaced (in place) only with `replace`. Every
    /// entry must be scored on the same galaxies (same z_spec fingerprint).
    pub fn add(&mut self, path: &Path, entry: Entry, replace: bool) -> Result<()> {
        self.check_name_free(path, &entry.name, replace)?;
        let existing = self.entries.iter().position(|e| e.name == entry.name);
        if let Some(other) =
            self.entries.iter().find(|e| e.name != entry.name && e.dataset.zspec_sha256 != entry.dataset.zspec_sha256)
        {
            return Err(Error::file(
                path,
                format!(
                    "'{}' was scored on different galaxies than '{}' (dataset '{}' from {}, z_spec fingerprint {}…); a board compares models on one dataset: use another board, or score with the same --truth",
                    entry.name,
                    other.name,
                    other.dataset.id,
                    other.dataset.source,
                    &other.dataset.zspec_sha256[..other.dataset.zspec_sha256.len().min(12)]
                ),
            ));
        }
        match existing {
            Some(i) => self.entries[i] = entry,
            None => self.entries.push(entry),
        }
        Ok(())
    }

    /// Entries ordered by `key` ascending (by |value| for biases); entries without a value last,
    /// ties by name.
    pub fn ranked(&self, key: &str) -> Result<Vec<&Entry>> {
        check_rank_key(key)?;
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        entries.sort_by(|a, b| {
            let (va, vb) = (rank_value(a, key), rank_value(b, key));
            match (va, vb) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| a.name.cmp(&b.name))
        });
        Ok(entries)
    }

    /// One line on what the board holds and how it is ranked.
    fn summary(&self, key: &str) -> String {
        let how = if SIGNED_KEYS.contains(&key) { format!("|{key}|") } else { key.to_string() };
        match self.entries.first() {
            None => "No entries yet: add one with `pzbench leaderboard add`.".to_string(),
            Some(first) => format!(
                "{} entr{} on dataset '{}' ({}; z_spec from {}, sha256 {}), ranked by {how}, smaller is better. Metrics as in the GalaxiesML paper (METRICS.md); ± is half the width of a bootstrap interval.",
                self.entries.len(),
                if self.entries.len() == 1 { "y" } else { "ies" },
                first.dataset.id,
                first.dataset.kind(),
                first.dataset.source,
                first.dataset.sha256
            ),
        }
    }

    /// Header and cells of the ranked table: rank, model, the Table 2 columns, the ranking
    /// metric if it is not among them, date.
    fn table(&self, key: &str) -> Result<TextTable> {
        let mut keys: Vec<(&str, &str)> = TABLE2_COLUMNS.to_vec();
        if !keys.iter().any(|(k, _)| *k == key) {
            keys.push((key, key));
        }
        let mut header = vec!["Rank".to_string(), "Model".to_string()];
        header.extend(keys.iter().map(|(_, h)| h.to_string()));
        header.push("Date (UTC)".to_string());
        let rows = self
            .ranked(key)?
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let mut row = vec![(i + 1).to_string(), entry.name.clone()];
                row.extend(keys.iter().map(|(k, _)| cell(entry, k)));
                row.push(entry.date.clone());
                row
            })
            .collect();
        Ok(TextTable { header, rows })
    }

    /// Terminal output of `leaderboard show`.
    pub fn to_terminal(&self, key: &str) -> Result<String> {
        Ok(format!("{}\n\n{}", self.summary(key), self.table(key)?.to_terminal()))
    }

    /// Markdown of `leaderboard render --format markdown`.
    pub fn to_markdown(&self, key: &str) -> Result<String> {
        let title = self.title.as_deref().unwrap_or("Photo-z leaderboard");
        // Rank right-aligned, model names left-aligned.
        let table = self.table(key)?.to_markdown().replacen("|---|---:|", "|---:|---|", 1);
        Ok(format!("# {title}\n\n{}\n\n{table}", self.summary(key)))
    }

    /// A standalone HTML page of `leaderboard render --format html`.
    pub fn to_html(&self, key: &str) -> Result<String> {
        let title = html_escape(self.title.as_deref().unwrap_or("Photo-z leaderboard"));
        let table = self.table(key)?;
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\nbody {{ font-family: sans-serif; margin: 2em; }}\ntable {{ border-collapse: collapse; }}\nth, td {{ padding: 0.3em 0.8em; border-bottom: 1px solid #ccc; }}\ntd:nth-child(n+3) {{ text-align: right; }}\n</style>\n</head>\n<body>\n<h1>{title}</h1>\n<p>{}</p>\n<table>\n<thead>\n<tr>",
            html_escape(&self.summary(key))
        );
        for h in &table.header {
            out.push_str(&format!("<th>{}</th>", html_escape(h)));
        }
        out.push_str("</tr>\n</thead>\n<tbody>\n");
        for row in &table.rows {
            out.push_str("<tr>");
            for c in row {
                out.push_str(&format!("<td>{}</td>", html_escape(c)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str(&format!(
            "</tbody>\n</table>\n<p>Generated by pzbench {}.</p>\n</body>\n</html>\n",
            pzbench_io::VERSION
        ));
        Ok(out)
    }
}

impl Default for Board {
    fn default() -> Self {
        Self::new()
    }
}

/// A metric `--by` may rank by: any METRICS.md key but `count`.
pub fn check_rank_key(key: &str) -> Result<()> {
    if METRIC_KEYS[1..].contains(&key) {
        Ok(())
    } else {
        Err(Error::usage(format!("--by {key}: not a metric; use one of {}", METRIC_KEYS[1..].join(", "))))
    }
}

/// The value an entry is ranked by.
fn rank_value(entry: &Entry, key: &str) -> Option<f64> {
    let value = entry.overall.get(key)?;
    Some(if SIGNED_KEYS.contains(&key) { value.abs() } else { value })
}

/// A table cell: count as an integer, values to four significant digits, `value ± half-width`
/// when bootstrapped, `-` for none.
fn cell(entry: &Entry, key: &str) -> String {
    if key == "count" {
        return entry.overall.count.to_string();
    }
    match (entry.overall.get(key), entry.interval(key)) {
        (None, _) => "-".to_string(),
        (Some(v), Some((lo, hi))) => format!("{} ± {}", significant(v, 4), significant((hi - lo) / 2.0, 2)),
        (Some(v), None) => significant(v, 4),
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Now (or `SOURCE_DATE_EPOCH`, for reproducible builds and tests) as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let seconds =
        std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        });
    format_utc(seconds)
}

/// Seconds since the Unix epoch as an RFC 3339 UTC timestamp (proleptic Gregorian calendar;
/// Howard Hinnant's `civil_from_days`).
pub fn format_utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

// ---------------------------------------------------------------------------------------------
// Validation against the embedded schema.

/// Keywords the interpreter checks.
const CHECKED_KEYWORDS: [&str; 15] = [
    "$ref",
    "type",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "pattern",
    "minimum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "$defs",
];
/// Keywords that only document.
const ANNOTATION_KEYWORDS: [&str; 4] = ["$schema", "$id", "title", "description"];

/// The two patterns the schema uses, each checked by hand (no regex engine needed).
const SHA256_PATTERN: &str = "^[0-9a-f]{64}$";
const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$";

fn matches_pattern(pattern: &str, text: &str) -> Option<bool> {
    match pattern {
        SHA256_PATTERN => {
            Some(text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        }
        DATE_PATTERN => {
            let b = text.as_bytes();
            let shape = b"dddd-dd-ddTdd:dd:ddZ";
            Some(
                b.len() == shape.len()
                    && b.iter().zip(shape).all(|(c, s)| if *s == b'd' { c.is_ascii_digit() } else { c == s }),
            )
        }
        _ => None,
    }
}

/// Validate a board against `leaderboards/schema.json`; the error names the first offending
/// place, e.g. `entries[1].overall.loss: expected number or null, got string`.
pub fn validate(board: &Value) -> std::result::Result<(), String> {
    let schema: Value =
        serde_json::from_str(SCHEMA).map_err(|e| format!("the embedded leaderboards/schema.json is not JSON: {e}"))?;
    check(&schema, &schema, board, "board")
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, wanted: &str) -> bool {
    match wanted {
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        other => type_name(value) == other,
    }
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> std::result::Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    if let Some(unknown) =
        schema.keys().find(|k| !CHECKED_KEYWORDS.contains(&k.as_str()) && !ANNOTATION_KEYWORDS.contains(&k.as_str()))
    {
        return Err(format!("schema: keyword {unknown} is not supported by pzbench's validator"));
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = reference
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs")?.get(name))
            .ok_or_else(|| format!("schema: unresolved $ref {reference}"))?;
        check(root, target, value, at)?;
    }
    if let Some(types) = schema.get("type") {
        let wanted: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !wanted.iter().any(|t| has_type(value, t)) {
            return Err(format!("{at}: expected {}, got {}", wanted.join(" or "), type_name(value)));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            let list: Vec<String> = options.iter().map(Value::to_string).collect();
            return Err(format!("{at}: {value} is not one of {}", list.join(", ")));
        }
    }
    if let Value::String(text) = value {
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if (text.chars().count() as u64) < min {
                return Err(format!("{at}: must not be empty"));
            }
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            match matches_pattern(pattern, text) {
                Some(true) => {}
                Some(false) if pattern == SHA256_PATTERN => {
                    return Err(format!("{at}: '{text}' is not a lowercase hex SHA-256 (64 characters)"))
                }
                Some(false) => return Err(format!("{at}: '{text}' is not a UTC date like 2026-11-27T07:19:00Z")),
                None => return Err(format!("schema: unsupported pattern {pattern}")),
            }
        }
    }
    if let Some(x) = value.as_f64() {
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        if bound("minimum").is_some_and(|m| x < m) || bound("exclusiveMinimum").is_some_and(|m| x <= m) {
            return Err(format!("{at}: {x} is too small"));
        }
        if bound("exclusiveMaximum").is_some_and(|m| x >= m) {
            return Err(format!("{at}: {x} is too large"));
        }
    }
    if let Value::Array(items) = value {
        let count = items.len() as u64;
        if schema.get("minItems").and_then(Value::as_u64).is_some_and(|m| count < m)
            || schema.get("maxItems").and_then(Value::as_u64).is_some_and(|m| count > m)
        {
            return Err(format!("{at}: wrong number of items ({count})"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(root, item_schema, item, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Value::Object(map) = value {
        for key in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(key) {
                return Err(format!("{at}: missing key '{key}'"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, item) in map {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => check(root, property, item, &format!("{at}.{key}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: unknown key '{key}'"));
                }
                None => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every keyword in the schema is one the interpreter checks or a pure annotation, so the
    /// documented schema and the validation cannot drift apart.
    #[test]
    fn schema_uses_only_interpreted_keywords() {
        fn walk(schema: &Value, at: &str) {
            let Some(map) = schema.as_object() else {
                return;
            };
            for (key, value) in map {
                assert!(
                    CHECKED_KEYWORDS.contains(&key.as_str()) || ANNOTATION_KEYWORDS.contains(&key.as_str()),
                    "{at}: unsupported keyword {key}"
                );
                match key.as_str() {
                    "properties" | "$defs" => {
                        for (name, sub) in value.as_object().unwrap() {
                            walk(sub, &format!("{at}.{name}"));
                        }
                    }
                    "items" => walk(value, &format!("{at}[]")),
                    "pattern" => assert!(matches_pattern(value.as_str().unwrap(), "").is_some(), "{at}: pattern"),
                    _ => {}
                }
            }
        }
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        walk(&schema, "schema");
    }

    #[test]
    fn schema_metric_keys_match_metrics_md() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let required: Vec<&str> =
            schema["$defs"]["metrics"]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(required, METRIC_KEYS.to_vec());
        let stored = serde_json::to_value(MetricValues {
            count: 1,
            bias: None,
            mean_bias: None,
            scatter: None,
            sigma_iqr: None,
            rms: None,
            outlier_frac: None,
            outlier_frac_rail: None,
            mse: None,
            loss: None,
            bias_bw: None,
            scatter_bw: None,
            outlier_frac_bw: None,
        })
        .unwrap();
        let mut keys: Vec<&str> = stored.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = METRIC_KEYS.to_vec();
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }

    #[test]
    fn empty_board_is_valid_and_bad_ones_are_named() {
        assert!(validate(&serde_json::json!({"format": FORMAT, "entries": []})).is_ok());
        let error = validate(&serde_json::json!({"format": "other", "entries": []})).unwrap_err();
        assert!(error.contains("board.format"), "{error}");
        let error = validate(&serde_json::json!({"format": FORMAT})).unwrap_err();
        assert!(error.contains("missing key 'entries'"), "{error}");
        let error = validate(&serde_json::json!({"format": FORMAT, "entries": {}})).unwrap_err();
        assert!(error.contains("board.entries: expected array, got object"), "{error}");
    }

    #[test]
    fn patterns() {
        assert_eq!(matches_pattern(DATE_PATTERN, "2026-11-27T07:19:00Z"), Some(true));
        assert_eq!(matches_pattern(DATE_PATTERN, "2026-11-27 07:19:00"), Some(false));
        assert_eq!(matches_pattern(SHA256_PATTERN, &"a".repeat(64)), Some(true));
        assert_eq!(matches_pattern(SHA256_PATTERN, &"A".repeat(64)), Some(false));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_795_763_940), "2026-11-27T07:19:00Z");
    }
}
