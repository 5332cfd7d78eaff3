"""`pzbench.score` on Arrow data (pyarrow arrays and chunked arrays, polars Series: the Arrow
PyCapsule interface, read through the Arrow C data interface) and pandas: the same results as on
numpy arrays, the values read in place where their layout allows, missing values refused."""
import numpy as np
import pytest

import pzbench

pa = pytest.importorskip("pyarrow")

RNG = np.random.default_rng(5)
Z_SPEC = RNG.uniform(0.0, 3.0, 5000)
Z_PHOT = Z_SPEC + 0.05 * (1 + Z_SPEC) * RNG.standard_normal(Z_SPEC.size)
EXPECTED = pzbench.score(Z_SPEC, Z_PHOT, bootstrap=20)
NAN_MESSAGE = r"^z_phot\[3\] is NaN; every redshift must be a finite number \(drop or fill missing values first\)$"


def address_of(array):
    """Where the float64 values of a pyarrow array start in memory."""
    return array.buffers()[1].address + 8 * array.offset


def test_a_float64_array_is_read_in_place():
    z_spec, z_phot = pa.array(Z_SPEC), pa.array(Z_PHOT)
    assert pzbench._core._values_address(z_spec) == address_of(z_spec)
    assert pzbench.score(z_spec, z_phot, bootstrap=20) == EXPECTED


def test_a_sliced_array_is_read_in_place_from_its_offset():
    z_spec = pa.array(np.concatenate([[9.0, 9.0], Z_SPEC]))[2:]
    assert z_spec.offset == 2
    assert pzbench._core._values_address(z_spec) == address_of(z_spec)
    assert pzbench.score(z_spec, pa.array(Z_PHOT), bootstrap=20) == EXPECTED


def test_numpy_float64_is_read_in_place():
    assert pzbench._core._values_address(Z_SPEC) == Z_SPEC.ctypes.data


def test_a_chunked_array_is_converted_once_to_the_same_result():
    z_spec = pa.chunked_array([Z_SPEC[:1000], Z_SPEC[1000:3000], Z_SPEC[3000:]])
    z_phot = pa.chunked_array([Z_PHOT[:10], Z_PHOT[10:]])
    assert pzbench._core._values_address(z_spec) is None
    assert pzbench.score(z_spec, z_phot, bootstrap=20) == EXPECTED


def test_a_single_chunk_chunked_array_is_read_in_place():
    z_spec = pa.chunked_array([Z_SPEC])
    assert pzbench._core._values_address(z_spec) == address_of(z_spec.chunk(0))


def test_float32_and_integers_are_converted_once():
    z_spec32, z_phot32 = Z_SPEC.astype(np.float32), Z_PHOT.astype(np.float32)
    expected = pzbench.score(z_spec32.astype(np.float64), z_phot32.astype(np.float64))
    assert pzbench._core._values_address(pa.array(z_spec32)) is None
    assert pzbench.score(pa.array(z_spec32), pa.array(z_phot32)) == expected
    integers = pzbench.score(pa.array([0, 1, 2], type=pa.int16()), pa.array([0, 1, 3], type=pa.uint8()))
    assert integers == pzbench.score([0.0, 1.0, 2.0], [0.0, 1.0, 3.0])


@pytest.mark.parametrize("z_phot", [
    pa.array([0.5, 1.0, 1.5, None, 2.5]),
    pa.chunked_array([[0.5, 1.0], [1.5, None, 2.5]]),
    pa.array([0.5, 1.0, 1.5, None, 2.5], type=pa.float32()),
], ids=["float64", "chunked", "float32"])
def test_nulls_are_refused_as_nan(z_phot):
    with pytest.raises(ValueError, match=NAN_MESSAGE):
        pzbench.score(pa.array([0.5, 1.0, 1.5, 2.0, 2.5]), z_phot)
    with pytest.raises(ValueError, match=NAN_MESSAGE):
        pzbench.score([0.5, 1.0, 1.5, 2.0, 2.5], [0.5, 1.0, 1.5, np.nan, 2.5])


def test_an_array_that_is_not_numbers_is_refused():
    with pytest.raises(ValueError, match=r"^z_spec: expected numbers, got an Arrow array of type Utf8$"):
        pzbench.score(pa.array(["0.5", "1.0"]), pa.array([0.5, 1.0]))


def test_lengths_that_differ_are_refused():
    with pytest.raises(ValueError, match=r"^z_spec has 3 values but z_phot has 2; give one z_phot per z_spec$"):
        pzbench.score(pa.chunked_array([[0.5], [1.0, 1.5]]), pa.array([0.5, 1.0]))


def test_polars_series_are_read_in_place():
    pl = pytest.importorskip("polars")
    z_spec, z_phot = pl.Series(Z_SPEC), pl.Series(Z_PHOT)
    # polars' own zero-copy view of its buffer starts where pzbench reads.
    assert pzbench._core._values_address(z_spec) == z_spec.to_numpy(allow_copy=False).ctypes.data
    assert pzbench.score(z_spec, z_phot, bootstrap=20) == EXPECTED
    assert pzbench.score(pl.Series(Z_SPEC.astype(np.float32)), z_phot) == pzbench.score(
        Z_SPEC.astype(np.float32).astype(np.float64), Z_PHOT)


def test_polars_nulls_and_chunks():
    pl = pytest.importorskip("polars")
    with pytest.raises(ValueError, match=NAN_MESSAGE):
        pzbench.score(pl.Series([0.5, 1.0, 1.5, 2.0, 2.5]), pl.Series([0.5, 1.0, 1.5, None, 2.5]))
    chunked = pl.concat([pl.Series(Z_SPEC[:100]), pl.Series(Z_SPEC[100:])], rechunk=False)
    assert chunked.n_chunks() == 2
    assert pzbench.score(chunked, pl.Series(Z_PHOT), bootstrap=20) == EXPECTED


def test_pandas_float64_is_read_in_place_and_missing_values_refused():
    pd = pytest.importorskip("pandas")
    z_spec = pd.Series(Z_SPEC, copy=False)
    assert pzbench._core._values_address(pzbench._score._column("z_spec", z_spec)) == Z_SPEC.ctypes.data
    assert pzbench.score(z_spec, pd.Series(Z_PHOT, dtype="Float64"), bootstrap=20) == EXPECTED
    assert pzbench.score(z_spec, pd.Series(Z_PHOT, dtype="double[pyarrow]"), bootstrap=20) == EXPECTED
    for z_phot in [pd.Series([0.5, 1.0, 1.5, np.nan, 2.5]), pd.Series([0.5, 1.0, 1.5, pd.NA, 2.5], dtype="Float64"),
                   pd.Series([0.5, 1.0, 1.5, None, 2.5], dtype="double[pyarrow]")]:
        with pytest.raises(ValueError, match=NAN_MESSAGE):
            pzbench.score(pd.Series([0.5, 1.0, 1.5, 2.0, 2.5]), z_phot)
