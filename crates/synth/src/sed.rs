//! Galaxy spectral energy distributions: the BPZ "CWWSB4" templates and Madau (1995) IGM
//! absorption.
//!
//! Templates (Benítez 2000, ApJ 536, 571; Coe et al. 2006, AJ 132, 926), embedded from
//! `fixtures/data/sed_templates/` (desc-bpz 0.4.0, MIT): the Coleman, Wu & Weedman (1980)
//! El, Sbc, Scd, Im spectra and the Kinney et al. (1996) starbursts SB3, SB2, extended by
//! Benítez (2004). Columns are rest-frame wavelength [Å] and `f_λ` in arbitrary units, zero
//! below 912 Å.
//!
//! A continuous spectral type `t ∈ [0, 5]` indexes the sequence El(0), Sbc(1), Scd(2), Im(3),
//! SB3(4), SB2(5); a non-integer `t` is the linear interpolation between its two neighbours,
//! each normalised to unit rest-frame HSC g-band flux (see [`TypeMix`]), as BPZ does when it
//! interpolates between templates (Benítez 2000, §3; `INTERP` option).

use pzbench_io::{Error, Result};

/// Template names in type order `t = 0 … 5`.
pub const TEMPLATE_NAMES: [&str; 6] = ["El", "Sbc", "Scd", "Im", "SB3", "SB2"];

/// Number of templates.
pub const N_TEMPLATES: usize = 6;

/// Largest spectral type index.
pub const T_MAX: f64 = (N_TEMPLATES - 1) as f64;

const TEMPLATE_TEXT: [&str; N_TEMPLATES] = [
    include_str!("../../../fixtures/data/sed_templates/El_B2004a.sed"),
    include_str!("../../../fixtures/data/sed_templates/Sbc_B2004a.sed"),
    include_str!("../../../fixtures/data/sed_templates/Scd_B2004a.sed"),
    include_str!("../../../fixtures/data/sed_templates/Im_B2004a.sed"),
    include_str!("../../../fixtures/data/sed_templates/SB3_B2004a.sed"),
    include_str!("../../../fixtures/data/sed_templates/SB2_B2004a.sed"),
];

/// A rest-frame SED tabulated on a strictly increasing wavelength grid.
#[derive(Debug, Clone)]
pub struct Sed {
    /// Template name, e.g. `"Sbc"`.
    pub name: String,
    wavelength: Vec<f64>,
    flux: Vec<f64>,
}

impl Sed {
    /// Build an SED from rest-frame wavelengths [Å] and `f_λ` values (non-negative, finite).
    pub fn new(name: &str, wavelength: Vec<f64>, flux: Vec<f64>) -> Result<Self> {
        let bad = |m: &str| Error::other(format!("SED {name}: {m}"));
        if wavelength.len() != flux.len() || wavelength.len() < 2 {
            return Err(bad("needs at least 2 samples and as many fluxes as wavelengths"));
        }
        if wavelength.iter().any(|w| !w.is_finite()) || wavelength.windows(2).any(|w| w[1] <= w[0]) {
            return Err(bad("wavelengths must be finite and strictly increasing"));
        }
        if flux.iter().any(|f| !f.is_finite() || *f < 0.0) {
            return Err(bad("fluxes must be finite and non-negative"));
        }
        Ok(Sed { name: name.to_string(), wavelength, flux })
    }

    /// Parse the BPZ two-column text format (`λ f_λ`, whitespace separated, `#` comments).
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let mut wavelength = Vec::new();
        let mut flux = Vec::new();
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split_whitespace().map(str::parse::<f64>);
            match (cols.next(), cols.next()) {
                (Some(Ok(l)), Some(Ok(f))) => {
                    wavelength.push(l);
                    flux.push(f);
                }
                _ => return Err(Error::other(format!("SED {name}: line {}: expected two numbers", lineno + 1))),
            }
        }
        Sed::new(name, wavelength, flux)
    }

    /// Rest-frame wavelength grid [Å].
    pub fn wavelength(&self) -> &[f64] {
        &self.wavelength
    }

    /// Rest-frame `f_λ` values.
    pub fn flux(&self) -> &[f64] {
        &self.flux
    }

    /// The observed-frame shape at redshift `z`: wavelengths `λ (1+z)` and values
    /// `f_λ(λ_obs/(1+z)) · T_IGM(λ_obs, z)` (the `f_λ(λ/(1+z))` convention of
    /// `synth_colors.json`; the physical `1/(1+z)` and `1/(4π D_L²)` factors are applied by the
    /// caller). `igm` switches the Madau (1995) transmission on.
    ///
    /// Only the samples needed to cover `[lo, hi]` (observed Å) are returned: those inside plus
    /// two neighbours on each side, so that trimming to any filter inside `[lo, hi]` selects the
    /// same samples as trimming the full spectrum would.
    pub fn observed(&self, z: f64, igm: bool, lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
        let n = self.wavelength.len();
        let a = self.wavelength.partition_point(|&l| l * (1.0 + z) <= lo).saturating_sub(2);
        let b = (self.wavelength.partition_point(|&l| l * (1.0 + z) < hi) + 2).min(n);
        let wave: Vec<f64> = self.wavelength[a..b].iter().map(|l| l * (1.0 + z)).collect();
        let flux = wave
            .iter()
            .zip(&self.flux[a..b])
            .map(|(&l, &f)| if igm { f * madau_transmission(l, z) } else { f })
            .collect();
        (wave, flux)
    }
}

/// The six CWWSB4 templates in type order ([`TEMPLATE_NAMES`]), parsed from the embedded files.
pub fn cwwsb4_templates() -> Result<Vec<Sed>> {
    TEMPLATE_NAMES.iter().zip(TEMPLATE_TEXT).map(|(n, t)| Sed::parse(n, t)).collect()
}

/// Linear interpolation weights of a continuous type `t ∈ [0, 5]` between neighbouring templates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TypeMix {
    /// Index of the lower template.
    pub lower: usize,
    /// Weight of template `lower + 1` (the weight of `lower` is `1 − upper_weight`).
    pub upper_weight: f64,
}

impl TypeMix {
    /// Weights for type `t`; an error unless `0 ≤ t ≤ 5`.
    pub fn new(t: f64) -> Result<Self> {
        if !(0.0..=T_MAX).contains(&t) {
            return Err(Error::other(format!("spectral type {t} is outside [0, {T_MAX}]")));
        }
        // t = 5 falls on the last segment with weight 1.
        let lower = (t.floor() as usize).min(N_TEMPLATES - 2);
        Ok(TypeMix { lower, upper_weight: t - lower as f64 })
    }
}

/// Rest wavelengths [Å] of Lyα, Lyβ, Lyγ, Lyδ and their Madau (1995, eq. 15 and Table 2)
/// effective-optical-depth coefficients `A_j`.
const LYMAN_SERIES: [(f64, f64); 4] = [(1215.67, 3.6e-3), (1025.72, 1.7e-3), (972.537, 1.2e-3), (949.743, 9.3e-4)];

/// Lyman limit [Å].
const LYMAN_LIMIT: f64 = 911.75;

/// Madau (1995, ApJ 441, 18) mean IGM transmission `exp(−τ_eff)` at observed wavelength
/// `lambda_obs` [Å] for a source at redshift `z`.
///
/// Line blanketing (Madau 1995, eq. 15): `τ_j = A_j (λ_obs/λ_j)^3.46` for every Lyman line with
/// `λ_j < λ_obs < λ_j (1+z)`. Photoelectric absorption by optically thin clouds (footnote 3 of
/// Madau 1995) for `λ_obs < λ_L (1+z)`, with `x_c = λ_obs/λ_L` (clamped to ≥ 1) and
/// `x_em = 1+z`:
/// `τ = 0.25 x_c³ (x_em^0.46 − x_c^0.46) + 9.4 x_c^1.5 (x_em^0.18 − x_c^0.18)
///      − 0.7 x_c³ (x_c^−1.32 − x_em^−1.32) − 0.023 (x_em^1.68 − x_c^1.68)`.
pub fn madau_transmission(lambda_obs: f64, z: f64) -> f64 {
    if z <= 0.0 || lambda_obs >= LYMAN_SERIES[0].0 * (1.0 + z) {
        return 1.0;
    }
    let mut tau = 0.0;
    for (lj, aj) in LYMAN_SERIES {
        if lambda_obs > lj && lambda_obs < lj * (1.0 + z) {
            tau += aj * (lambda_obs / lj).powf(3.46);
        }
    }
    let x_em = 1.0 + z;
    if lambda_obs < LYMAN_LIMIT * x_em {
        let xc = (lambda_obs / LYMAN_LIMIT).max(1.0);
        tau += 0.25 * xc.powi(3) * (x_em.powf(0.46) - xc.powf(0.46))
            + 9.4 * xc.powf(1.5) * (x_em.powf(0.18) - xc.powf(0.18))
            - 0.7 * xc.powi(3) * (xc.powf(-1.32) - x_em.powf(-1.32))
            - 0.023 * (x_em.powf(1.68) - xc.powf(1.68));
    }
    (-tau.max(0.0)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_with_expected_coverage() {
        let t = cwwsb4_templates().unwrap();
        assert_eq!(t.len(), N_TEMPLATES);
        for s in &t {
            assert_eq!(s.wavelength()[0], 0.0);
            assert!(*s.wavelength().last().unwrap() > 25_000.0);
            // Zero flux below the Lyman limit (README of the BPZ templates).
            let below: f64 = s.wavelength().iter().zip(s.flux()).filter(|(l, _)| **l < 900.0).map(|(_, f)| *f).sum();
            assert_eq!(below, 0.0, "{}", s.name);
        }
    }

    #[test]
    fn type_mix_weights() {
        assert_eq!(TypeMix::new(0.0).unwrap(), TypeMix { lower: 0, upper_weight: 0.0 });
        assert_eq!(TypeMix::new(2.25).unwrap(), TypeMix { lower: 2, upper_weight: 0.25 });
        assert_eq!(TypeMix::new(5.0).unwrap(), TypeMix { lower: 4, upper_weight: 1.0 });
        assert!(TypeMix::new(-0.1).is_err());
        assert!(TypeMix::new(5.1).is_err());
        assert!(TypeMix::new(f64::NAN).is_err());
    }

    #[test]
    fn madau_transmission_behaves() {
        // Redward of Lyα: no absorption.
        assert_eq!(madau_transmission(1216.0 * 4.0 + 1.0, 3.0), 1.0);
        // Lyα forest at z = 3, λ_obs = 4500 Å: τ = 0.0036 (4500/1215.67)^3.46 = 0.33.
        let t = madau_transmission(4500.0, 3.0);
        let expect = (-0.0036_f64 * (4500.0_f64 / 1215.67).powf(3.46)).exp();
        assert!((t - expect).abs() < 1e-12, "{t} vs {expect}");
        // More absorption at higher redshift for the same observed wavelength, more blueward
        // of the Lyman limit, and far below it the source is almost black.
        assert!(madau_transmission(4500.0, 3.5) < t);
        assert!(madau_transmission(3500.0, 3.0) < t);
        assert!(madau_transmission(2000.0, 3.0) < 0.05);
        assert_eq!(madau_transmission(1000.0, 0.0), 1.0);
    }

    #[test]
    fn bad_sed_text_is_an_error() {
        assert!(Sed::parse("x", "1 2\n3 nope\n").is_err());
        assert!(Sed::parse("x", "3 2\n1 2\n").is_err());
        assert!(Sed::parse("x", "1 2\n3 -2\n").is_err());
    }
}
