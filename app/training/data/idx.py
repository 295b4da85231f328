"""The IDX format of (Fashion-)MNIST: a small big-endian header, then the raw array; `.gz` is gunzipped."""

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

# IDX type code -> the big-endian dtype its bytes hold
DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES = {(dtype.kind, dtype.itemsize): code for code, dtype in DTYPES.items()}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (native byte order, writable); ValueError if the file is malformed."""
    path = Path(path)
    data = _read_bytes(path)
    dtype, shape, header_len = _parse_header(path, data)
    expected = math.prod(shape) * dtype.itemsize
    found = len(data) - header_len
    if found != expected:
        raise ValueError(
            f"{path}: the header promises shape {shape} of {dtype.name} ({expected} bytes) "
            f"but the file holds {found} data bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a copy: owned, writable, native order


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Store `array` as an IDX file at `path`, gzipped when the name ends in `.gz`."""
    array = np.asarray(array)
    code = CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise ValueError(
            f"IDX cannot store dtype {array.dtype}; use one of uint8, int8, int16, int32, float32/64"
        )
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, not {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
    opener = gzip.open if Path(path).name.endswith(".gz") else open
    with opener(path, "wb") as out:
        out.write(header + payload)


def _read_bytes(path: Path) -> bytes:
    if not path.name.endswith(".gz"):
        return path.read_bytes()
    try:
        return gzip.decompress(path.read_bytes())
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: not a complete gzip file ({error})") from None


def _parse_header(path: Path, data: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, header length in bytes) from the start of an IDX file."""
    if len(data) < 4:
        raise ValueError(f"{path}: only {len(data)} bytes, too short for the 4-byte IDX header")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (magic starts with {data[:2].hex()}, expected 0000)")
    code, ndim = data[2], data[3]
    if code not in DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X}")
    if ndim == 0:
        raise ValueError(f"{path}: the IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(f"{path}: the header declares {ndim} dimensions but the file ends inside them")
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return DTYPES[code], shape, header_len
