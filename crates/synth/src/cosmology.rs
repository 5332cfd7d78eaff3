//! Flat ΛCDM distances (Hogg 1999, "Distance measures in cosmology", astro-ph/9905116).
//!
//! `E(z) = sqrt(Ω_m (1+z)³ + Ω_Λ)` with `Ω_Λ = 1 − Ω_m` (radiation neglected);
//! comoving distance `D_C = (c/H0) ∫₀^z dz'/E(z')` (Hogg eq. 15), and for a flat universe
//! `D_M = D_C` (eq. 16), `D_A = D_M/(1+z)` (eq. 18), `D_L = (1+z) D_M` (eq. 21),
//! distance modulus `DM = 5 log10(D_L / 10 pc)` (eq. 25).

use pzbench_io::{Error, Result};

/// Speed of light in km s⁻¹.
const C_KM_S: f64 = 299_792.458;

/// Arcseconds per radian.
const ARCSEC_PER_RAD: f64 = 180.0 * 3600.0 / std::f64::consts::PI;

/// Simpson intervals per unit redshift; the integrand is smooth, so 256 per unit z gives a
/// relative error below 1e-10 for z ≤ 10.
const SIMPSON_PER_UNIT_Z: f64 = 256.0;

/// A flat ΛCDM cosmology.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosmology {
    /// Hubble constant [km s⁻¹ Mpc⁻¹].
    pub h0: f64,
    /// Matter density parameter today.
    pub omega_m: f64,
}

impl Default for Cosmology {
    /// H0 = 70 km s⁻¹ Mpc⁻¹, Ω_m = 0.3, flat: the cosmology of the project README's kpc/″ values.
    fn default() -> Self {
        Cosmology { h0: 70.0, omega_m: 0.3 }
    }
}

impl Cosmology {
    /// A flat ΛCDM cosmology; an error unless `h0 > 0` and `0 < Ω_m ≤ 1`.
    pub fn flat(h0: f64, omega_m: f64) -> Result<Self> {
        if !(h0 > 0.0 && h0.is_finite() && omega_m > 0.0 && omega_m <= 1.0) {
            return Err(Error::other(format!("invalid cosmology: H0 = {h0}, Ω_m = {omega_m}")));
        }
        Ok(Cosmology { h0, omega_m })
    }

    /// Hubble distance `c/H0` [Mpc].
    pub fn hubble_distance_mpc(&self) -> f64 {
        C_KM_S / self.h0
    }

    /// `E(z) = H(z)/H0` (Hogg eq. 14 with Ω_k = 0).
    pub fn e_of_z(&self, z: f64) -> f64 {
        (self.omega_m * (1.0 + z).powi(3) + (1.0 - self.omega_m)).sqrt()
    }

    /// Line-of-sight comoving distance [Mpc] (Hogg eq. 15), composite Simpson rule.
    pub fn comoving_distance_mpc(&self, z: f64) -> f64 {
        if z <= 0.0 {
            return 0.0;
        }
        let n = (((z * SIMPSON_PER_UNIT_Z).ceil() as usize).max(16) + 1) & !1usize;
        let h = z / n as f64;
        let f = |x: f64| 1.0 / self.e_of_z(x);
        let mut s = f(0.0) + f(z);
        for k in 1..n {
            s += f(k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
        }
        self.hubble_distance_mpc() * s * h / 3.0
    }

    /// Luminosity distance [Mpc] (Hogg eq. 21).
    pub fn luminosity_distance_mpc(&self, z: f64) -> f64 {
        (1.0 + z) * self.comoving_distance_mpc(z)
    }

    /// Angular-diameter distance [Mpc] (Hogg eq. 18).
    pub fn angular_diameter_distance_mpc(&self, z: f64) -> f64 {
        self.comoving_distance_mpc(z) / (1.0 + z)
    }

    /// Proper transverse size subtended by one arcsecond at redshift `z` [kpc/″].
    pub fn kpc_per_arcsec(&self, z: f64) -> f64 {
        self.angular_diameter_distance_mpc(z) * 1000.0 / ARCSEC_PER_RAD
    }

    /// Distance modulus and kpc per arcsecond together, with one integration (for per-galaxy
    /// use): `(5 log10(D_L / 10 pc), D_A · 1″ in kpc)`.
    pub fn distance_modulus_and_kpc_per_arcsec(&self, z: f64) -> (f64, f64) {
        let dc = self.comoving_distance_mpc(z);
        (5.0 * ((1.0 + z) * dc * 1e5).log10(), dc / (1.0 + z) * 1000.0 / ARCSEC_PER_RAD)
    }

    /// Distance modulus `5 log10(D_L / 10 pc)` (Hogg eq. 25); `−∞` at `z ≤ 0`.
    pub fn distance_modulus(&self, z: f64) -> f64 {
        5.0 * (self.luminosity_distance_mpc(z) * 1e5).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kpc_per_arcsec_matches_the_readme() {
        let c = Cosmology::default();
        for (z, v) in [(0.1, 1.84), (0.5, 6.10), (1.0, 8.01), (1.5, 8.46), (3.0, 7.70)] {
            let got = c.kpc_per_arcsec(z);
            assert!((got - v).abs() < 0.006, "z={z}: {got} vs {v}");
        }
    }

    #[test]
    fn comoving_distance_is_accurate() {
        let c = Cosmology::default();
        // Einstein–de Sitter (Ω_m = 1) has the closed form D_C = 2 (c/H0) (1 − 1/sqrt(1+z)).
        let eds = Cosmology::flat(70.0, 1.0).unwrap();
        for z in [0.01, 0.5, 1.0, 2.5, 4.0] {
            let exact = 2.0 * eds.hubble_distance_mpc() * (1.0 - 1.0 / (1.0_f64 + z).sqrt());
            let got = eds.comoving_distance_mpc(z);
            assert!(((got - exact) / exact).abs() < 1e-9, "EdS z={z}: {got} vs {exact}");
        }
        // Doubling the Simpson resolution changes nothing at the 1e-9 level.
        let z = 3.7;
        let n = 4096usize;
        let h = z / n as f64;
        let mut s = 1.0 + 1.0 / c.e_of_z(z);
        for k in 1..n {
            s += if k % 2 == 1 { 4.0 } else { 2.0 } / c.e_of_z(k as f64 * h);
        }
        let fine = c.hubble_distance_mpc() * s * h / 3.0;
        assert!(((c.comoving_distance_mpc(z) - fine) / fine).abs() < 1e-9);
        // Astropy FlatLambdaCDM(70, 0.3).comoving_distance(1) = 3303.83 Mpc (Tcmb = 0).
        assert!((c.comoving_distance_mpc(1.0) - 3303.83).abs() < 0.05);
    }

    #[test]
    fn distance_relations_hold() {
        let c = Cosmology::default();
        let z = 1.3;
        let dl = c.luminosity_distance_mpc(z);
        let da = c.angular_diameter_distance_mpc(z);
        assert!((dl / da - (1.0 + z) * (1.0 + z)).abs() < 1e-12);
        // DM(z = 0.1) = 38.315 and DM(1) = 44.100 for H0 = 70, Ω_m = 0.3 (astropy FlatLambdaCDM).
        assert!((c.distance_modulus(0.1) - 38.315).abs() < 1e-3);
        assert!((c.distance_modulus(1.0) - 44.100).abs() < 1e-3);
        let (dm, scale) = c.distance_modulus_and_kpc_per_arcsec(z);
        assert!((dm - c.distance_modulus(z)).abs() < 1e-12 && (scale - c.kpc_per_arcsec(z)).abs() < 1e-12);
        assert!(Cosmology::flat(-1.0, 0.3).is_err());
        assert!(Cosmology::flat(70.0, 1.5).is_err());
    }
}
