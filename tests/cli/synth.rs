//! `pzbench synth` and `synth::generate`: the layout the reader expects, the split, determinism,
//! the inspect round trip, redshift information in the images, bad input, atomicity, h5py.
//!
//! Library tests share one population model on a Δz = 0.01 photometry grid (the default
//! Δz = 0.001 grid takes seconds to build in a debug build); CLI runs pass the hidden
//! `--grid-dz 0.01` for the same reason.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::util::run;
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pzbench_io::galaxiesml::{GalaxiesMlFile, TABULAR_KEYS};
use pzbench_synth::generate::{file_name, generate, split_assignment, split_counts, NzSource, DEFAULT_BLOCK, SPLITS};
use pzbench_synth::photometry::PhotometryGrid;
use pzbench_synth::population::{NzTable, PopulationModel};

/// The default model (HSC spec-z n(z)) on a Δz = 0.01 grid, built once per test binary.
fn model() -> &'static PopulationModel {
    static MODEL: OnceLock<PopulationModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let grid = PhotometryGrid::hsc_with_step(true, 0.01).unwrap();
        PopulationModel::new(grid, NzSource::HscSpecz.table().unwrap()).unwrap()
    })
}

/// HDF5 locks files with `flock`, and its descriptors are inherited by child processes: a child
/// spawned by one test while another test has an HDF5 file open keeps that lock alive, and the
/// next open of the file fails with EAGAIN. Tests that hold HDF5 files take the read side of
/// this lock; tests that spawn processes take the write side.
static SPAWN: RwLock<()> = RwLock::new(());

fn hdf5_guard() -> RwLockReadGuard<'static, ()> {
    SPAWN.read().unwrap_or_else(|e| e.into_inner())
}

fn spawn_guard() -> RwLockWriteGuard<'static, ()> {
    SPAWN.write().unwrap_or_else(|e| e.into_inner())
}

fn generate_set(n: usize, size: usize, seed: u64, dir: &Path) -> [usize; 3] {
    generate(model(), n, size, seed, dir, DEFAULT_BLOCK, &mut |_| {}).unwrap().counts
}

fn outputs(size: usize) -> Vec<String> {
    ["hdf5", "csv"].iter().flat_map(|ext| SPLITS.iter().map(move |s| file_name(size, s, ext))).collect()
}

fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn files_keys_dtypes_and_shapes_are_the_galaxiesml_layout() {
    let _guard = hdf5_guard();
    let dir = tempfile::tempdir().unwrap();
    let counts = generate_set(20, 64, 11, dir.path());
    assert_eq!(counts, [12, 4, 4]);
    let expected: BTreeSet<String> = outputs(64).into_iter().collect();
    assert_eq!(listing(dir.path()), expected, "only the six outputs, no temporary files");

    for (split, &n) in SPLITS.iter().zip(&counts) {
        let path = dir.path().join(file_name(64, split, "hdf5"));
        assert!(path.ends_with(format!("5x64x64_{split}_with_morphology.hdf5")));
        let file = GalaxiesMlFile::open(&path).unwrap();
        assert_eq!(file.n_galaxies().unwrap(), n);
        assert_eq!(file.image_shape().unwrap(), (n, 5, 64, 64));
        let image = file.key("image").unwrap();
        assert_eq!(image.dtype, "float32");
        // Every key of TABULAR_KEYS, nothing else, in its listed dtype, shape (n,).
        let keys: BTreeSet<&str> = file.keys().iter().map(|k| k.name.as_str()).collect();
        let mut want: BTreeSet<&str> = TABULAR_KEYS.iter().map(|k| k.name).collect();
        want.insert("image");
        assert_eq!(keys, want);
        for spec in TABULAR_KEYS {
            let info = file.key(spec.name).unwrap();
            assert_eq!(info.native, Some(spec.dtype), "{}: {}", spec.name, info.dtype);
            assert_eq!(info.shape, vec![n], "{}", spec.name);
            // Every column reads back with the reader's typed accessor.
            assert_eq!(file.read_column(spec.name).unwrap().data.len(), n);
        }
        let images = file.read_images(0, n).unwrap();
        assert!(images.iter().all(|v| v.is_finite()));
        assert!(images.iter().any(|v| *v != 0.0));

        // The CSV: same columns in TABULAR_KEYS order, one row per galaxy, same values.
        let csv = std::fs::read_to_string(dir.path().join(file_name(64, split, "csv"))).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header, TABULAR_KEYS.iter().map(|k| k.name).collect::<Vec<_>>());
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), n);
        let z = file.read_f64("specz_redshift").unwrap();
        let ids = file.read_i64("object_id").unwrap();
        let zi = header.iter().position(|h| *h == "specz_redshift").unwrap();
        for (k, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), header.len());
            assert_eq!(row[0].parse::<i64>().unwrap(), ids[k]);
            assert_eq!(row[zi].parse::<f64>().unwrap(), z[k], "exact round trip");
        }
    }
}

#[test]
fn the_split_is_random_60_20_20() {
    assert_eq!(split_counts(60).unwrap(), [36, 12, 12]);
    assert_eq!(split_counts(10_000).unwrap(), [6000, 2000, 2000]);
    assert_eq!(split_counts(4).unwrap(), [2, 1, 1]);
    assert!(split_counts(3).is_err());
    assert!(split_counts(0).is_err());
    let [a, b, c] = split_assignment(1000, 5).unwrap();
    assert_eq!((a.len(), b.len(), c.len()), (600, 200, 200));
    let mut all: Vec<u64> = a.iter().chain(&b).chain(&c).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<u64>>(), "a partition of the galaxies");
    // Random, not contiguous: the testing file draws from the whole index range.
    assert!(c.iter().any(|&i| i < 500) && c.iter().any(|&i| i >= 500));
    assert!(a.windows(2).all(|w| w[0] < w[1]), "rows in index order within a file");
    assert_ne!(split_assignment(1000, 6).unwrap()[2], c);
    assert_eq!(split_assignment(1000, 5).unwrap()[2], c);
}

#[test]
fn same_seed_gives_identical_bytes_on_any_thread_count_and_another_seed_differs() {
    let _guard = hdf5_guard();
    let (a, b, c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate_set(10, 32, 7, a.path());
    // One thread and blocks of 3 galaxies: the same bytes.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| generate(model(), 10, 32, 7, b.path(), 3, &mut |_| {}).unwrap());
    generate_set(10, 32, 8, c.path());
    for name in outputs(32) {
        let read = |d: &Path| std::fs::read(d.join(&name)).unwrap();
        assert!(read(a.path()) == read(b.path()), "{name} differs between runs of one seed");
        assert!(read(a.path()) != read(c.path()), "{name} is the same for seeds 7 and 8");
    }
}

/// A four-bump n(z) with about equal numbers in 0.05–0.2, 0.3–0.5, 0.8–1.0 and 1.5–2.0.
fn bumps() -> NzTable {
    NzTable::parse_csv(
        "0.05,6.67\n0.2,6.67\n0.2001,0\n0.2999,0\n0.3,5\n0.5,5\n0.5001,0\n0.7999,0\n0.8,5\n1.0,5\n\
         1.0001,0\n1.4999,0\n1.5,2\n2.0,2\n",
    )
    .unwrap()
}

/// Per galaxy: z, catalogue g−r and r−i, catalogue i half-light radius, image aperture g−r and
/// r−i (5 px radius), image size (r + i + z second moment within 8 px).
struct Measured {
    z: f64,
    gr: f64,
    ri: f64,
    hlr: f64,
    img_gr: f64,
    img_ri: f64,
    img_size: f64,
}

fn measure(dir: &Path, size: usize) -> Vec<Measured> {
    let c = (size / 2) as f64;
    let mut out = Vec::new();
    for split in SPLITS {
        let file = GalaxiesMlFile::open(dir.join(file_name(size, split, "hdf5"))).unwrap();
        let n = file.n_galaxies().unwrap();
        let col = |k: &str| file.read_f64(k).unwrap();
        let (z, g, r, i, hlr) = (
            col("specz_redshift"),
            col("g_cmodel_mag"),
            col("r_cmodel_mag"),
            col("i_cmodel_mag"),
            col("i_half_light_radius"),
        );
        let images = file.read_images(0, n).unwrap();
        let band_len = size * size;
        for k in 0..n {
            let stamp = &images[k * 5 * band_len..(k + 1) * 5 * band_len];
            let aperture = |band: usize, radius: f64| {
                let mut sum = 0.0;
                let mut moment = 0.0;
                for y in 0..size {
                    for x in 0..size {
                        let r2 = (x as f64 - c).powi(2) + (y as f64 - c).powi(2);
                        if r2 <= radius * radius {
                            let v = f64::from(stamp[band * band_len + y * size + x]);
                            sum += v;
                            moment += v * r2;
                        }
                    }
                }
                (sum, moment)
            };
            let colour = |a: f64, b: f64| {
                if a > 0.0 && b > 0.0 {
                    -2.5 * (a / b).log10()
                } else {
                    f64::NAN
                }
            };
            let (fg, fr, fi) = (aperture(0, 5.0).0, aperture(1, 5.0).0, aperture(2, 5.0).0);
            let (mut s, mut m) = (0.0, 0.0);
            for band in 1..4 {
                let (sb, mb) = aperture(band, 8.0);
                s += sb;
                m += mb;
            }
            out.push(Measured {
                z: z[k],
                gr: g[k] - r[k],
                ri: r[k] - i[k],
                hlr: hlr[k],
                img_gr: colour(fg, fr),
                img_ri: colour(fr, fi),
                img_size: if s > 0.0 && m > 0.0 { (m / s).sqrt() } else { f64::NAN },
            });
        }
    }
    out
}

fn mean_of(rows: &[Measured], lo: f64, hi: f64, f: impl Fn(&Measured) -> f64) -> f64 {
    let v: Vec<f64> = rows.iter().filter(|m| m.z >= lo && m.z < hi).map(f).filter(|v| v.is_finite()).collect();
    assert!(v.len() >= 40, "only {} galaxies in {lo}–{hi}", v.len());
    v.iter().sum::<f64>() / v.len() as f64
}

fn median_of(rows: &[Measured], lo: f64, hi: f64, f: impl Fn(&Measured) -> f64) -> f64 {
    let mut v: Vec<f64> = rows.iter().filter(|m| m.z >= lo && m.z < hi).map(f).filter(|v| v.is_finite()).collect();
    assert!(v.len() >= 40, "only {} galaxies in {lo}–{hi}", v.len());
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn synthetic_images_carry_redshift_information() {
    let _guard = hdf5_guard();
    let dir = tempfile::tempdir().unwrap();
    let bumpy = model().clone().with_nz(bumps()).unwrap();
    generate(&bumpy, 400, 64, 2024, dir.path(), DEFAULT_BLOCK, &mut |_| {}).unwrap();
    let rows = measure(dir.path(), 64);
    assert_eq!(rows.len(), 400);

    // Sizes fall with z: angular-diameter distance and size evolution (catalogue truth and
    // image second moments).
    let (hlr_low, hlr_high) = (mean_of(&rows, 0.0, 0.5, |m| m.hlr), mean_of(&rows, 1.0, 4.0, |m| m.hlr));
    assert!(hlr_low > 1.3 * hlr_high, "true half-light radius {hlr_low} (z < 0.5) vs {hlr_high} (z > 1)");
    let (img_low, img_high) = (mean_of(&rows, 0.0, 0.5, |m| m.img_size), mean_of(&rows, 1.0, 4.0, |m| m.img_size));
    eprintln!("true r½ {hlr_low:.2} / {hlr_high:.2} px, image size {img_low:.2} / {img_high:.2} px (z < 0.5 / z > 1)");
    assert!(img_low > img_high, "image size {img_low} (z < 0.5) vs {img_high} (z > 1)");

    // Colours follow the 4000 Å break: g − r reddest at z ≈ 0.3–0.5 (break between g and r),
    // r − i reddest at z ≈ 0.8–1.0 (break between r and i), both blue at z > 1.5.
    type Colour = fn(&Measured) -> f64;
    let colours: [(&str, Colour, Colour); 2] =
        [("catalogue", |m| m.gr, |m| m.ri), ("image", |m| m.img_gr, |m| m.img_ri)];
    for (what, gr, ri) in colours {
        let gr_bins = [(0.05, 0.2), (0.3, 0.5), (0.8, 1.0), (1.5, 2.0)].map(|(a, b)| median_of(&rows, a, b, gr));
        let ri_bins = [(0.05, 0.2), (0.3, 0.5), (0.8, 1.0), (1.5, 2.0)].map(|(a, b)| median_of(&rows, a, b, ri));
        let msg = format!("{what}: g−r {gr_bins:.2?}, r−i {ri_bins:.2?} in z bins 0.05–0.2, 0.3–0.5, 0.8–1, 1.5–2");
        eprintln!("{msg}");
        assert!(gr_bins[1] > gr_bins[0] + 0.1, "{msg}");
        assert!(gr_bins[1] > gr_bins[3] + 0.4, "{msg}");
        assert!(ri_bins[2] > ri_bins[1] + 0.15, "{msg}");
        assert!(ri_bins[2] > ri_bins[3] + 0.3, "{msg}");
    }
}

#[test]
fn synth_then_inspect_round_trip() {
    let _guard = spawn_guard();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/out");
    let out_s = out.to_str().unwrap();
    let (code, _, err) =
        run(&["synth", "--n", "20", "--size", "64", "--seed", "3", "--out", out_s, "--grid-dz", "0.01"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote 20 galaxies (12 / 4 / 4)"), "{err}");
    for (split, n) in SPLITS.iter().zip([12, 4, 4]) {
        let path = out.join(file_name(64, split, "hdf5"));
        let (code, json, err) = run(&["inspect", "--format", "json", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["n_rows"], n);
        assert_eq!(v["image_shape"], serde_json::json!([n, 5, 64, 64]));
        assert_eq!(v["keys"].as_array().unwrap().len(), TABULAR_KEYS.len() + 1);
        for check in v["checks"].as_array().unwrap() {
            assert_eq!(check["violations"], 0, "section 3.2 cut broken: {check}");
        }
    }
    // --quiet: nothing on stderr; the same seed through the CLI gives the same bytes.
    let again = dir.path().join("again");
    let (code, _, err) =
        run(&["synth", "--n", "20", "--seed", "3", "--out", again.to_str().unwrap(), "--grid-dz", "0.01", "-q"]);
    assert_eq!((code, err.as_str()), (0, ""));
    for name in outputs(64) {
        assert!(std::fs::read(out.join(&name)).unwrap() == std::fs::read(again.join(&name)).unwrap(), "{name}");
    }
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let _guard = spawn_guard();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_s = out.to_str().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let under_file = blocker.join("sub");
    let bad_nz = dir.path().join("bad_nz.csv");
    std::fs::write(&bad_nz, "z,weight\n0.5,1\n0.4,oops\n").unwrap();
    let wide_nz = dir.path().join("wide_nz.csv");
    std::fs::write(&wide_nz, "0.5,1\n6.0,1\n").unwrap();
    let missing_nz = dir.path().join("missing.csv");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--n", "10", "--size", "50", "--out", out_s], vec!["--size 50", "64 or 127"]),
        (vec!["--n", "0", "--out", out_s], vec!["--n 0", "at least 4"]),
        (vec!["--n", "3", "--out", out_s], vec!["--n 3", "at least 4"]),
        (
            vec!["--n", "10", "--out", under_file.to_str().unwrap()],
            vec!["a-file/sub", "cannot create the output folder", "--out"],
        ),
        (vec!["--n", "10", "--out", out_s, "--nz", bad_nz.to_str().unwrap()], vec!["bad_nz.csv", "line 3", "z,weight"]),
        (vec!["--n", "10", "--out", out_s, "--nz", wide_nz.to_str().unwrap()], vec!["wide_nz.csv", "[0.001, 4]"]),
        (vec!["--n", "10", "--out", out_s, "--nz", missing_nz.to_str().unwrap()], vec!["missing.csv", "cannot read"]),
    ];
    for (args, needles) in cases {
        let mut full = vec!["synth"];
        full.extend(&args);
        let (code, stdout, err) = run(&full);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(stdout.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line, got {err:?}");
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
        }
    }
    assert!(!under_file.exists());
    // Nothing was written for any bad input (the folder may have been created empty).
    assert!(!out.exists() || listing(&out).is_empty());
}

#[test]
fn a_failure_while_moving_outputs_into_place_leaves_no_output() {
    let _guard = hdf5_guard();
    let dir = tempfile::tempdir().unwrap();
    // The last file to be moved into place is blocked by a non-empty folder of its name.
    let blocked = dir.path().join(file_name(32, "testing", "csv"));
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("keep"), "x").unwrap();
    let result = generate(model(), 10, 32, 1, dir.path(), DEFAULT_BLOCK, &mut |_| {});
    let err = result.unwrap_err().to_string();
    assert!(err.contains("5x32x32_testing_with_morphology.csv"), "{err}");
    let left: Vec<String> = listing(dir.path()).into_iter().collect();
    assert_eq!(left, vec![file_name(32, "testing", "csv")], "outputs or temporary files left behind");
}

#[test]
fn h5py_reads_a_generated_file() {
    let _guard = spawn_guard();
    let has_h5py = Command::new("python3").args(["-c", "import h5py"]).status().map(|s| s.success()).unwrap_or(false);
    if !has_h5py {
        eprintln!("skipped: h5py is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    generate_set(8, 32, 4, dir.path());
    let path: PathBuf = dir.path().join(file_name(32, "training", "hdf5"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/h5py_check.py");
    let out = Command::new("python3").arg(script).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let keys: BTreeSet<&str> = text.lines().filter_map(|l| l.split(' ').next()).collect();
    let mut want: BTreeSet<&str> = TABULAR_KEYS.iter().map(|k| k.name).collect();
    want.insert("image");
    assert_eq!(keys, want);
    assert!(text.contains("image float32 (5, 5, 32, 32)"), "{text}");
    assert!(text.contains("specz_flag_homogeneous bool (5,)"), "{text}");
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/synth")
}

#[test]
fn committed_fixtures_are_well_formed() {
    let _guard = hdf5_guard();
    for (split, n) in SPLITS.iter().zip([30, 10, 10]) {
        let file = GalaxiesMlFile::open(fixtures().join(file_name(64, split, "hdf5"))).unwrap();
        assert_eq!(file.image_shape().unwrap(), (n, 5, 64, 64));
        assert_eq!(file.keys().len(), TABULAR_KEYS.len() + 1);
        let z = file.read_f64("specz_redshift").unwrap();
        let err = file.read_f64("specz_redshift_err").unwrap();
        assert!(z.iter().zip(&err).all(|(z, e)| *z > 0.01 && *z < 4.0 && *e > 0.0 && *e < 0.005 * (1.0 + z)));
        let csv = std::fs::read_to_string(fixtures().join(file_name(64, split, "csv"))).unwrap();
        assert_eq!(csv.lines().count(), n + 1);
    }
}

/// Regenerates the committed fixtures with the command of `fixtures/synth/README.md` (the
/// full-resolution photometry grid, slow in a debug build) and compares the bytes.
#[test]
#[ignore = "slow in debug builds; run after changing the generator"]
fn committed_fixtures_are_what_the_generator_makes() {
    let _guard = hdf5_guard();
    let dir = tempfile::tempdir().unwrap();
    let model = PopulationModel::galaxiesml().unwrap().with_nz(NzSource::HscSpecz.table().unwrap()).unwrap();
    generate(&model, 50, 64, 1, dir.path(), DEFAULT_BLOCK, &mut |_| {}).unwrap();
    for name in outputs(64) {
        let same = std::fs::read(dir.path().join(&name)).unwrap() == std::fs::read(fixtures().join(&name)).unwrap();
        assert!(same, "fixtures/synth/{name} is stale: rerun the command in fixtures/synth/README.md");
    }
}
