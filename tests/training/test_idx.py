"""The IDX reader and writer: exact round trips, and readable refusals of broken files."""

import gzip

import numpy as np
import pytest

from app.training.data.idx import read_idx, write_idx


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_images_round_trip_exactly(tmp_path, name):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / name, images)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.uint8 and back.shape == (7, 28, 28)
    np.testing.assert_array_equal(back, images)


@pytest.mark.parametrize("name", ["labels-idx1-ubyte", "labels-idx1-ubyte.gz"])
def test_labels_round_trip_exactly(tmp_path, name):
    labels = np.random.default_rng(1).integers(0, 10, 50, dtype=np.uint8)
    write_idx(tmp_path / name, labels)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.uint8 and back.shape == (50,)
    np.testing.assert_array_equal(back, labels)


def test_gz_files_are_really_gzipped_and_raw_files_are_not(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", labels)
    write_idx(tmp_path / "a", labels)
    raw = (tmp_path / "a").read_bytes()
    assert raw == bytes([0, 0, 0x08, 1, 0, 0, 0, 10]) + labels.tobytes()
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == raw


@pytest.mark.parametrize("dtype", ["i1", "i2", "i4", "f4", "f8"])
def test_wider_types_round_trip_in_native_order(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 12).astype(dtype)
    write_idx(tmp_path / "x.idx", array)
    back = read_idx(tmp_path / "x.idx")
    assert back.dtype == np.dtype(dtype) and back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_bad_magic_names_the_file(tmp_path):
    path = tmp_path / "bad-magic"
    path.write_bytes(bytes([1, 2, 0x08, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(ValueError, match="bad-magic.*magic"):
        read_idx(path)


def test_a_file_shorter_than_its_header_promises_names_the_file(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    write_idx(path, np.zeros((3, 4, 4), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"short-idx3-ubyte.*\(3, 4, 4\).*43 data bytes"):
        read_idx(path)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x00\x00", "too short"),
        (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 0]), "unknown IDX type code 0x07"),
        (bytes([0, 0, 0x08, 3, 0, 0, 0, 1]), "ends inside"),
        (bytes([0, 0, 0x08, 1, 0, 0, 0, 1, 5, 6]), "holds 2 data bytes"),
    ],
)
def test_malformed_headers_say_what_is_wrong(tmp_path, content, why):
    path = tmp_path / "broken.idx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="broken.idx") as caught:
        read_idx(path)
    assert why in str(caught.value)


def test_a_cut_off_gzip_file_is_a_value_error_naming_the_file(tmp_path):
    path = tmp_path / "cut.gz"
    write_idx(path, np.zeros((10, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="cut.gz"):
        read_idx(path)


def test_writing_an_unsupported_dtype_is_refused(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
