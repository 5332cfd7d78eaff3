//! HSC broad-band filter curves and speclite-compatible synthetic photometry.
//!
//! The five HSC total-throughput curves (Kawanomoto et al. 2018, PASJ 70, 66; airmass 1.2) are the
//! `hsc2017-{g,r,i,z,y}` files shipped with speclite 1.0.0 (BSD-3), embedded from
//! `fixtures/data/hsc_filters/`. Magnitudes follow speclite's `FilterResponse.get_ab_magnitude`
//! (Kirkby et al., speclite documentation, "Filter convolution"), i.e. the photon-counting AB
//! definition (Fukugita et al. 1996, eq. 7; Blanton & Roweis 2007, eq. 1):
//!
//! ```text
//! maggies = ∫ f_λ(λ) R(λ) λ dλ / ∫ f_λ,AB(λ) R(λ) λ dλ,   f_λ,AB = 3631 Jy · c / λ²,
//! m_AB    = −2.5 log10(maggies)
//! ```
//!
//! which equals `∫ f_ν R dλ/λ / ∫ 3631 Jy R dλ/λ`. Both integrals are trapezoid sums laid out
//! exactly as speclite lays them out (see [`Filter::ab_maggies`]), so colours agree with speclite
//! to far better than 0.01 mag.

use pzbench_io::{Error, Result};

use crate::hsc::{BANDS, N_BANDS};

/// Speed of light in Å s⁻¹ (CODATA exact value).
pub const C_ANGSTROM_PER_S: f64 = 2.997_924_58e18;

/// The AB reference flux density, 3631 Jy, in erg s⁻¹ cm⁻² Hz⁻¹ (Oke & Gunn 1983).
pub const AB_FNU_CGS: f64 = 3631.0e-23;

/// Embedded ECSV text of the five curves, in [`BANDS`] order.
const HSC_ECSV: [&str; N_BANDS] = [
    include_str!("../../../fixtures/data/hsc_filters/hsc2017-g.ecsv"),
    include_str!("../../../fixtures/data/hsc_filters/hsc2017-r.ecsv"),
    include_str!("../../../fixtures/data/hsc_filters/hsc2017-i.ecsv"),
    include_str!("../../../fixtures/data/hsc_filters/hsc2017-z.ecsv"),
    include_str!("../../../fixtures/data/hsc_filters/hsc2017-y.ecsv"),
];

/// A tabulated filter response, trimmed and normalised as speclite's `FilterResponse` does.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Band name, e.g. `"i"`.
    pub name: String,
    wavelength: Vec<f64>,
    response: Vec<f64>,
    /// `∫ f_λ,AB R λ dλ` (trapezoid on the filter grid), the denominator of [`Filter::ab_maggies`].
    ab_zeropoint: f64,
}

impl Filter {
    /// Build a filter from a wavelength grid [Å] and response values.
    ///
    /// Negative responses are clipped to 0 (the HSC files carry `-0.0` and tiny negative wings).
    /// As in speclite, the grid must be strictly increasing, the response must start and end at 0,
    /// and leading/trailing zeros beyond one are trimmed.
    pub fn new(name: &str, wavelength: Vec<f64>, response: Vec<f64>) -> Result<Self> {
        let bad = |m: &str| Error::other(format!("filter {name}: {m}"));
        if wavelength.len() != response.len() {
            return Err(bad("wavelength and response have different lengths"));
        }
        if wavelength.len() < 3 {
            return Err(bad("needs at least 3 samples"));
        }
        if wavelength.iter().any(|w| !w.is_finite() || *w <= 0.0) || wavelength.windows(2).any(|w| w[1] <= w[0]) {
            return Err(bad("wavelengths must be positive, finite and strictly increasing"));
        }
        let response: Vec<f64> = response.into_iter().map(|r| if r > 0.0 { r } else { 0.0 }).collect();
        if response.iter().any(|r| !r.is_finite()) {
            return Err(bad("response values must be finite"));
        }
        let first = response.iter().position(|&r| r > 0.0).ok_or_else(|| bad("response is zero everywhere"))?;
        let last = response.iter().rposition(|&r| r > 0.0).ok_or_else(|| bad("response is zero everywhere"))?;
        if first == 0 || last + 1 == response.len() {
            return Err(bad("response must go to zero at both ends"));
        }
        let wavelength = wavelength[first - 1..last + 2].to_vec();
        let response = response[first - 1..last + 2].to_vec();
        let ab_integrand: Vec<f64> =
            wavelength.iter().zip(&response).map(|(&l, &r)| AB_FNU_CGS * C_ANGSTROM_PER_S / (l * l) * r * l).collect();
        let ab_zeropoint = trapezoid(&wavelength, &ab_integrand);
        Ok(Filter { name: name.to_string(), wavelength, response, ab_zeropoint })
    }

    /// Parse an astropy ECSV filter file (`wavelength response` columns, `#` header lines).
    pub fn from_ecsv(name: &str, text: &str) -> Result<Self> {
        let mut wavelength = Vec::new();
        let mut response = Vec::new();
        let mut header_seen = false;
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if !header_seen {
                header_seen = true;
                if line.split_whitespace().next() == Some("wavelength") {
                    continue;
                }
            }
            let mut cols = line.split_whitespace();
            let parse = |s: Option<&str>| -> Result<f64> {
                s.and_then(|v| v.parse::<f64>().ok())
                    .ok_or_else(|| Error::other(format!("filter {name}: line {}: expected two numbers", lineno + 1)))
            };
            wavelength.push(parse(cols.next())?);
            response.push(parse(cols.next())?);
        }
        Filter::new(name, wavelength, response)
    }

    /// The trimmed wavelength grid [Å].
    pub fn wavelength(&self) -> &[f64] {
        &self.wavelength
    }

    /// The trimmed, clipped response values.
    pub fn response(&self) -> &[f64] {
        &self.response
    }

    /// Linear interpolation of the response, zero outside the tabulated range (speclite's
    /// `FilterResponse.interpolator`).
    pub fn response_at(&self, lambda: f64) -> f64 {
        interp_linear(&self.wavelength, &self.response, lambda).unwrap_or(0.0)
    }

    /// Photon-weighted effective wavelength `∫ λ R λ dλ / ∫ R λ dλ` [Å] (speclite's
    /// `effective_wavelength`).
    pub fn effective_wavelength(&self) -> f64 {
        let num: Vec<f64> = self.wavelength.iter().zip(&self.response).map(|(l, r)| l * l * r).collect();
        let den: Vec<f64> = self.wavelength.iter().zip(&self.response).map(|(l, r)| l * r).collect();
        trapezoid(&self.wavelength, &num) / trapezoid(&self.wavelength, &den)
    }

    /// AB maggies (`10^(−0.4 m_AB)`) of a spectrum `f_λ` [erg s⁻¹ cm⁻² Å⁻¹] tabulated on a
    /// strictly increasing grid `wave` [Å] that covers the filter.
    ///
    /// This replicates speclite's `FilterConvolution` with `interpolate=True` step by step:
    /// 1. trim the input grid to the smallest slice covering the filter;
    /// 2. evaluate the (linearly interpolated) response on that grid;
    /// 3. wherever two consecutive interior filter samples fall in the same input interval,
    ///    add the first one as an extra node, with the spectrum linearly interpolated there and
    ///    the tabulated response;
    /// 4. replace the outermost nodes by the filter end points;
    /// 5. integrate `f_λ R λ` with the trapezoid rule and divide by the AB zeropoint.
    pub fn ab_maggies(&self, wave: &[f64], flux: &[f64]) -> Result<f64> {
        if wave.len() != flux.len() || wave.len() < 2 {
            return Err(Error::other(format!(
                "filter {}: spectrum needs at least 2 samples and as many fluxes as wavelengths",
                self.name
            )));
        }
        let fw = &self.wavelength;
        let (f_lo, f_hi) = (fw[0], fw[fw.len() - 1]);
        if wave[0] > f_lo || wave[wave.len() - 1] < f_hi {
            return Err(Error::other(format!(
                "filter {}: spectrum ({:.1}-{:.1} Å) does not cover the response {f_lo:.1}-{f_hi:.1} Å",
                self.name,
                wave[0],
                wave[wave.len() - 1]
            )));
        }
        // 1. Trim: start = last index with wave <= f_lo, stop = first index with wave >= f_hi.
        let start = if wave[0] < f_lo { wave.partition_point(|&w| w <= f_lo) - 1 } else { 0 };
        let stop = if wave[wave.len() - 1] > f_hi { wave.partition_point(|&w| w < f_hi) + 1 } else { wave.len() };
        let w = &wave[start..stop];
        let v = &flux[start..stop];
        // 3. Undersampled interior filter points (numpy searchsorted, side='left').
        // Both grids are sorted: one forward walk replaces a binary search per point.
        let mut insert: Vec<usize> = Vec::with_capacity(fw.len() - 1);
        let mut j = 0;
        for &x in &fw[1..] {
            while j < w.len() && w[j] < x {
                j += 1;
            }
            insert.push(j);
        }
        let mut extra: Vec<(f64, f64)> = Vec::new();
        for i in 0..insert.len().saturating_sub(1) {
            if insert[i + 1] == insert[i] {
                let lam = fw[i + 1];
                let val = interp_linear(w, v, lam).ok_or_else(|| {
                    Error::other(format!("filter {}: cannot interpolate the spectrum at {lam} Å", self.name))
                })?;
                extra.push((lam, val * self.response[i + 1]));
            }
        }
        // 2. Nodes on the input grid, merged with the extra nodes in wavelength order.
        // Both lists are sorted, so a merge reproduces speclite's argsort (ties carry equal
        // integrands, so their order does not matter).
        let mut nodes: Vec<(f64, f64)> = Vec::with_capacity(w.len() + extra.len());
        let mut ex = extra.into_iter().peekable();
        let fr = &self.response;
        let mut k = 0; // fw[k] ≤ l < fw[k + 1] while l is inside the filter
        for (&l, &f) in w.iter().zip(v) {
            while let Some(e) = ex.next_if(|e| e.0 < l) {
                nodes.push(e);
            }
            // Linear interpolation of the response at l, 0 outside (as `response_at`).
            let r = if l < f_lo || l > f_hi {
                0.0
            } else {
                while k + 2 < fw.len() && fw[k + 1] <= l {
                    k += 1;
                }
                let t = (l - fw[k]) / (fw[k + 1] - fw[k]);
                fr[k] + t * (fr[k + 1] - fr[k])
            };
            nodes.push((l, f * r));
        }
        nodes.extend(ex);
        // 4. Clamp the outermost nodes to the filter end points.
        let n = nodes.len();
        if nodes[0].0 < f_lo {
            nodes[0].0 = f_lo;
        }
        if nodes[n - 1].0 > f_hi {
            nodes[n - 1].0 = f_hi;
        }
        // 5. Photon weighting and trapezoid rule.
        let mut sum = 0.0;
        for k in 1..n {
            let (l0, y0) = nodes[k - 1];
            let (l1, y1) = nodes[k];
            sum += 0.5 * (y0 * l0 + y1 * l1) * (l1 - l0);
        }
        Ok(sum / self.ab_zeropoint)
    }
}

/// The five HSC curves `hsc2017-{g,r,i,z,y}`, parsed from the embedded ECSV files.
pub fn hsc_filters() -> Result<[Filter; N_BANDS]> {
    Ok([
        Filter::from_ecsv(BANDS[0], HSC_ECSV[0])?,
        Filter::from_ecsv(BANDS[1], HSC_ECSV[1])?,
        Filter::from_ecsv(BANDS[2], HSC_ECSV[2])?,
        Filter::from_ecsv(BANDS[3], HSC_ECSV[3])?,
        Filter::from_ecsv(BANDS[4], HSC_ECSV[4])?,
    ])
}

/// Trapezoid rule `Σ ½ (y_k + y_{k+1}) (x_{k+1} − x_k)` (numpy `trapz`).
pub(crate) fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2).zip(y.windows(2)).map(|(xw, yw)| 0.5 * (yw[0] + yw[1]) * (xw[1] - xw[0])).sum()
}

/// Linear interpolation on an increasing grid; `None` outside `[x_0, x_last]`.
pub(crate) fn interp_linear(x: &[f64], y: &[f64], at: f64) -> Option<f64> {
    let n = x.len();
    if n == 0 || !(at >= x[0] && at <= x[n - 1]) {
        return None;
    }
    let j = x.partition_point(|&g| g <= at);
    if j >= n {
        return Some(y[n - 1]);
    }
    let (x0, x1) = (x[j - 1], x[j]);
    let t = (at - x0) / (x1 - x0);
    Some(y[j - 1] + t * (y[j] - y[j - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsc_curves_parse_and_are_ordered() {
        let f = hsc_filters().unwrap();
        let leff: Vec<f64> = f.iter().map(Filter::effective_wavelength).collect();
        // HSC effective wavelengths ≈ 4800, 6200, 7700, 8900, 9800 Å (Kawanomoto et al. 2018).
        let expect = [4800.0, 6200.0, 7700.0, 8900.0, 9800.0];
        for (l, e) in leff.iter().zip(expect) {
            assert!((l - e).abs() < 150.0, "effective wavelength {l} vs {e}");
        }
        assert!(f.iter().all(|b| b.response().iter().all(|&r| r >= 0.0)));
        let i = &f[2];
        let (w, r) = (i.wavelength(), i.response());
        assert_eq!(i.response_at(w[40]), r[40]);
        assert!((i.response_at(0.5 * (w[40] + w[41])) - 0.5 * (r[40] + r[41])).abs() < 1e-15);
        assert_eq!(i.response_at(w[0] - 1.0), 0.0);
        assert_eq!(i.response_at(w[w.len() - 1] + 1.0), 0.0);
        assert!(f.iter().all(|b| b.response()[0] == 0.0 && *b.response().last().unwrap() == 0.0));
    }

    #[test]
    fn flat_fnu_source_has_the_same_magnitude_in_every_band() {
        // f_ν = 3631 Jy · 10^(−0.4·20) ⇒ m_AB = 20 in every band, for coarse and fine grids
        // (the coarse one exercises the undersampling branch).
        let f = hsc_filters().unwrap();
        for step in [1.0, 250.0] {
            let wave: Vec<f64> = (0..).map(|k| 3000.0 + step * k as f64).take_while(|&l| l <= 12000.0).collect();
            let flux: Vec<f64> = wave.iter().map(|l| AB_FNU_CGS * 1e-8 * C_ANGSTROM_PER_S / (l * l)).collect();
            for b in &f {
                let m = -2.5 * b.ab_maggies(&wave, &flux).unwrap().log10();
                let tol = if step < 10.0 { 1e-4 } else { 5e-3 };
                assert!((m - 20.0).abs() < tol, "band {} step {step}: {m}", b.name);
            }
        }
    }

    #[test]
    fn rejects_spectra_that_do_not_cover_the_band() {
        let f = hsc_filters().unwrap();
        let wave = [4000.0, 5000.0];
        assert!(f[0].ab_maggies(&wave, &[1.0, 1.0]).is_err());
    }

    #[test]
    fn ecsv_errors_are_reported() {
        assert!(Filter::from_ecsv("x", "wavelength response\n1 0\n2 oops\n3 0\n").is_err());
        assert!(Filter::from_ecsv("x", "1 0\n2 0\n3 0\n").is_err());
        assert!(Filter::from_ecsv("x", "1 0\n2 1\n3 0\n").is_ok());
    }
}
