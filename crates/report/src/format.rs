//! Number formatting and plain-text tables shared by the renderers.

/// Format like C's `%.{digits}g` (significant digits, scientific only for very small or large
/// magnitudes), without trailing zeros: readable in tables, not for round-tripping.
pub fn significant(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let exponent = x.abs().log10().floor() as i32;
    if exponent < -4 || exponent >= digits as i32 {
        return format!("{:.*e}", digits.saturating_sub(1), x);
    }
    let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Decimal places that show `x` to `digits` significant digits (`digits - 1` for zero or a
/// non-finite `x`; never negative).
fn decimals_for(x: f64, digits: usize) -> usize {
    if x == 0.0 || !x.is_finite() {
        return digits.saturating_sub(1);
    }
    (digits as i32 - 1 - x.abs().log10().floor() as i32).max(0) as usize
}

/// `x` with `decimals` places, `-0.000` written `0.000` (a value that rounds to zero has no sign).
fn fixed(x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    match text.strip_prefix('-') {
        Some(magnitude) if magnitude.bytes().all(|b| b == b'0' || b == b'.') => magnitude.to_string(),
        _ => text,
    }
}

/// A measured value as printed in Table 2: `digits` significant digits in fixed notation,
/// trailing zeros kept (`0.0360`, `0.000100`, as the paper prints them).
pub fn significant_fixed(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    fixed(x, decimals_for(x, digits))
}

/// `value ± half_width` with both numbers to the same decimal place: the value's `digits`
/// significant digits, but no finer than the half-width's second significant digit and no coarser
/// than its first (so the ± never reads zero and the value never claims digits its uncertainty
/// does not support), e.g. `0.0675 ± 0.0020`, `-0.00018 ± 0.00036`, `0.01720 ± 0.00004`.
pub fn plus_minus(value: f64, half_width: f64, digits: usize) -> (String, String) {
    let first = (half_width.is_finite() && half_width > 0.0).then(|| decimals_for(half_width, 1));
    let decimals = match first {
        None => decimals_for(value, digits),
        Some(first) if value == 0.0 => first + 1,
        Some(first) => decimals_for(value, digits).clamp(first, first + 1),
    };
    (fixed(value, decimals), fixed(half_width, decimals))
}

/// A redshift bin as every report prints it: right-closed, edges to six significant digits,
/// e.g. `(0.2, 0.4]` (`docs/METRICS.md`: bins are `(lo, hi]`).
pub fn bin_label(lo: f64, hi: f64) -> String {
    format!("({}, {}]", significant(lo, 6), significant(hi, 6))
}

/// A table of text cells rendered with aligned columns (terminal) or as Markdown.
#[derive(Debug, Clone, Default)]
pub struct TextTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl TextTable {
    /// Columns padded to their widest cell; the first column left-aligned, the rest right-aligned.
    pub fn to_terminal(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(
                    |(c, s)| {
                        if c == 0 {
                            format!("{s:<w$}", w = widths[c])
                        } else {
                            format!("{s:>w$}", w = widths[c])
                        }
                    },
                )
                .collect();
            parts.join("  ").trim_end().to_string()
        };
        let mut out = line(&self.header);
        out.push('\n');
        out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1)));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.header.join(" | "));
        out.push_str(&format!(
            "|{}\n",
            self.header.iter().enumerate().map(|(c, _)| if c == 0 { "---|" } else { "---:|" }).collect::<String>()
        ));
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(significant(0.016712345, 4), "0.01671");
        assert_eq!(significant(40914.0, 4), "4.091e4");
        assert_eq!(significant(1.5, 4), "1.5");
        assert_eq!(significant(0.0001, 3), "0.0001");
        assert_eq!(significant(0.00001234, 3), "1.23e-5");
        assert_eq!(significant(-0.25, 4), "-0.25");
        assert_eq!(significant(0.0, 4), "0");
    }

    #[test]
    fn fixed_significant_digits_keep_trailing_zeros() {
        assert_eq!(significant_fixed(0.036, 3), "0.0360");
        assert_eq!(significant_fixed(0.0001, 3), "0.000100");
        assert_eq!(significant_fixed(0.0011, 3), "0.00110");
        assert_eq!(significant_fixed(1.37e-5, 3), "0.0000137");
        assert_eq!(significant_fixed(-0.000177427, 3), "-0.000177");
        assert_eq!(significant_fixed(0.13, 3), "0.130");
        assert_eq!(significant_fixed(0.0, 3), "0.00");
        assert_eq!(significant_fixed(1234.5, 3), "1234");
    }

    #[test]
    fn plus_minus_shares_the_decimal_place() {
        let pm = |v, h| {
            let (v, h) = plus_minus(v, h, 3);
            format!("{v} ± {h}")
        };
        assert_eq!(pm(0.0675406, 0.002), "0.0675 ± 0.0020");
        assert_eq!(pm(0.03595, 0.0025), "0.0360 ± 0.0025");
        assert_eq!(pm(0.12979, 0.013), "0.130 ± 0.013");
        assert_eq!(pm(-0.000177427, 0.00036), "-0.00018 ± 0.00036");
        assert_eq!(pm(1.3682e-5, 0.00044), "0.00001 ± 0.00044");
        assert_eq!(pm(0.0312374, 0.00046), "0.0312 ± 0.0005");
        assert_eq!(pm(0.0172, 0.00004), "0.01720 ± 0.00004");
        assert_eq!(pm(-0.000001, 0.0004), "0.00000 ± 0.00040");
        assert_eq!(pm(0.0, 0.0004), "0.00000 ± 0.00040");
        assert_eq!(pm(0.05, 0.0), "0.0500 ± 0.0000");
    }

    #[test]
    fn bins_read_alike_everywhere() {
        assert_eq!(bin_label(1.0, 1.2000000000000002), "(1, 1.2]");
        assert_eq!(bin_label(0.0, 0.2), "(0, 0.2]");
    }

    #[test]
    fn markdown_and_terminal_tables() {
        let table =
            TextTable { header: vec!["bin".into(), "N".into()], rows: vec![vec!["overall".into(), "12".into()]] };
        assert_eq!(table.to_markdown(), "| bin | N |\n|---|---:|\n| overall | 12 |\n");
        assert_eq!(table.to_terminal(), "bin       N\n-----------\noverall  12\n");
    }
}
