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
    fn markdown_and_terminal_tables() {
        let table =
            TextTable { header: vec!["bin".into(), "N".into()], rows: vec![vec!["overall".into(), "12".into()]] };
        assert_eq!(table.to_markdown(), "| bin | N |\n|---|---:|\n| overall | 12 |\n");
        assert_eq!(table.to_terminal(), "bin       N\n-----------\noverall  12\n");
    }
}
