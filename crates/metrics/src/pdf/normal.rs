//! The standard normal density and CDF (`docs/PDF_METRICS.md` §1.1, the Φ and φ of the mixture
//! representation).
//!
//! Φ is Cephes' `ndtr` (S. L. Moshier, Cephes Math Library 2.8, `ndtr.c`): `erf` from a rational
//! approximation on |x| ≤ 1, `erfc` from two rational approximations times `exp(−x²)` above, with
//! ~1e−16 relative error over the double range. These are the coefficients and the operation order
//! of scipy's `special.ndtr` (which `scipy.stats.norm.cdf` calls), so the rail dialect's mixture
//! CDF reproduces qp's values bit for bit (§3), which matters where the rounded sum crosses 1.

/// `1/√2`.
const SQRT1_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `√(2π)`, scipy's `_norm_pdf_C`.
pub(crate) const SQRT_2PI: f64 = 2.5066282746310002;
/// Cephes `MAXLOG`: `exp(−x²)` underflows to 0 below `−MAXLOG`.
#[allow(clippy::excessive_precision)]
const MAXLOG: f64 = 7.09782712893383996843E2;

/// `erfc` numerator, 1 ≤ x < 8.
#[allow(clippy::excessive_precision)]
const ERFC_P: [f64; 9] = [
    2.46196981473530512524E-10,
    5.64189564831068821977E-1,
    7.46321056442269912687E0,
    4.86371970985681366614E1,
    1.96520832956077098242E2,
    5.26445194995477358631E2,
    9.34528527171957607540E2,
    1.02755188689515710272E3,
    5.57535335369399327526E2,
];
/// `erfc` denominator (leading 1 implied), 1 ≤ x < 8.
#[allow(clippy::excessive_precision)]
const ERFC_Q: [f64; 8] = [
    1.32281951154744992508E1,
    8.67072140885989742329E1,
    3.54937778887819891062E2,
    9.75708501743205489753E2,
    1.82390916687909736289E3,
    2.24633760818710981792E3,
    1.65666309194161350182E3,
    5.57535340817727675546E2,
];
/// `erfc` numerator, x ≥ 8.
#[allow(clippy::excessive_precision)]
const ERFC_R: [f64; 6] = [
    5.64189583547755073984E-1,
    1.27536670759978104416E0,
    5.01905042251180477414E0,
    6.16021097993053585195E0,
    7.40974269950448939160E0,
    2.97886665372100240670E0,
];
/// `erfc` denominator (leading 1 implied), x ≥ 8.
#[allow(clippy::excessive_precision)]
const ERFC_S: [f64; 6] = [
    2.26052863220117276590E0,
    9.39603524938001434673E0,
    1.20489539808096656605E1,
    1.70814450747565897222E1,
    9.60896809063285878198E0,
    3.36907645100081516050E0,
];
/// `erf` numerator in x², |x| ≤ 1.
#[allow(clippy::excessive_precision)]
const ERF_T: [f64; 5] = [
    9.60497373987051638749E0,
    9.00260197203842689217E1,
    2.23200534594684319226E3,
    7.00332514112805075473E3,
    5.55923013010394962768E4,
];
/// `erf` denominator in x² (leading 1 implied), |x| ≤ 1.
#[allow(clippy::excessive_precision)]
const ERF_U: [f64; 5] = [
    3.35617141647503099647E1,
    5.21357949780152679795E2,
    4.59432382970980127987E3,
    2.26290000613890934246E4,
    4.92673942608635921086E4,
];

/// Cephes `polevl`: `c[0] xⁿ + … + c[n]` by Horner's rule.
fn polevl(x: f64, c: &[f64]) -> f64 {
    c[1..].iter().fold(c[0], |acc, &ci| acc * x + ci)
}

/// Cephes `p1evl`: `xⁿ + c[0] xⁿ⁻¹ + … + c[n−1]` (leading coefficient 1).
fn p1evl(x: f64, c: &[f64]) -> f64 {
    c[1..].iter().fold(x + c[0], |acc, &ci| acc * x + ci)
}

/// The error function (Cephes `erf`).
fn erf(x: f64) -> f64 {
    if x.abs() > 1.0 {
        return 1.0 - erfc(x);
    }
    let z = x * x;
    x * polevl(z, &ERF_T) / p1evl(z, &ERF_U)
}

/// The complementary error function (Cephes `erfc`).
fn erfc(a: f64) -> f64 {
    let x = a.abs();
    if x < 1.0 {
        return 1.0 - erf(a);
    }
    let z = -a * a;
    let underflow = if a < 0.0 { 2.0 } else { 0.0 };
    if z < -MAXLOG {
        return underflow;
    }
    let z = z.exp();
    let (p, q) =
        if x < 8.0 { (polevl(x, &ERFC_P), p1evl(x, &ERFC_Q)) } else { (polevl(x, &ERFC_R), p1evl(x, &ERFC_S)) };
    let y = (z * p) / q;
    let y = if a < 0.0 { 2.0 - y } else { y };
    if y == 0.0 {
        underflow
    } else {
        y
    }
}

/// Φ(a), the standard normal CDF (Cephes `ndtr`, as scipy's `special.ndtr`).
pub fn normal_cdf(a: f64) -> f64 {
    let x = a * SQRT1_2;
    let z = x.abs();
    if z < SQRT1_2 {
        return 0.5 + 0.5 * erf(x);
    }
    let y = 0.5 * erfc(z);
    if x > 0.0 {
        1.0 - y
    } else {
        y
    }
}

/// φ(z) = exp(−z²/2)/√(2π), in scipy's `_norm_pdf` order of operations.
pub fn normal_pdf(z: f64) -> f64 {
    (-(z * z) / 2.0).exp() / SQRT_2PI
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_known_values() {
        assert_eq!(normal_cdf(0.0), 0.5);
        // scipy.special.ndtr at these points (printed with repr).
        assert_eq!(normal_cdf(1.0), 0.8413447460685429);
        assert_eq!(normal_cdf(-1.0), 0.15865525393145707);
        assert_eq!(normal_cdf(-5.0), 2.866515718791933e-07);
        assert_eq!(normal_cdf(-20.0), 2.7536241186061556e-89);
        assert_eq!(normal_cdf(0.3), 0.6179114221889526);
        assert_eq!(normal_cdf(9.0), 1.0);
        assert_eq!(normal_cdf(-40.0), 0.0);
    }

    #[test]
    fn pdf_is_symmetric_and_normalised_at_zero() {
        assert_eq!(normal_pdf(0.0), 1.0 / SQRT_2PI);
        assert_eq!(normal_pdf(1.3), normal_pdf(-1.3));
    }
}
