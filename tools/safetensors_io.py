"""Minimal safetensors reader/writer in pure Python + numpy.

Written here so that fixtures, the converter and the training export depend on nothing beyond numpy.
Format: 8-byte little-endian u64 header length N, then N bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``, then the data
buffer; offsets are relative to the start of the data buffer. The JSON header is padded with spaces to a
multiple of 8 bytes so the data buffer starts aligned, as the reference implementation does.
"""

from __future__ import annotations

import json
import struct
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

# safetensors dtype name -> numpy little-endian dtype. BF16 has no numpy dtype: it travels as raw u16 bits.
_NUMPY_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "U8": np.dtype("u1"),
}


def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round float32 values to bfloat16 (round to nearest, ties to even) and return the raw u16 bits."""
    u = np.ascontiguousarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    rounding = ((u >> 16) & 1) + 0x7FFF
    return ((u + rounding) >> 16).astype("<u2")


def bf16_bits_to_f32(bits: np.ndarray) -> np.ndarray:
    return (np.asarray(bits, dtype="<u2").astype("<u4") << 16).view("<f4")


def round_to_dtype(x: np.ndarray, dtype: str) -> np.ndarray:
    """The float32 values a tensor takes after being stored as ``dtype`` and read back."""
    x32 = np.asarray(x, dtype=np.float32)
    if dtype == "F32":
        return x32.copy()
    if dtype == "F16":
        return x32.astype("<f2").astype(np.float32)
    if dtype == "BF16":
        return bf16_bits_to_f32(f32_to_bf16_bits(x32))
    raise ValueError(f"round_to_dtype: unsupported float dtype {dtype!r}")


def _encode(x: np.ndarray, dtype: str) -> bytes:
    if dtype == "BF16":
        return f32_to_bf16_bits(np.asarray(x, dtype=np.float32)).tobytes()
    if dtype not in _NUMPY_DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}")
    return np.ascontiguousarray(x, dtype=_NUMPY_DTYPES[dtype]).tobytes()


def save_file(
    tensors: Mapping[str, np.ndarray],
    path: str,
    dtype: str = "F32",
    metadata: Optional[Mapping[str, str]] = None,
    dtypes: Optional[Mapping[str, str]] = None,
) -> None:
    """Write ``tensors`` to ``path``. ``dtype`` applies to every tensor unless ``dtypes`` names another."""
    header: Dict[str, object] = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        dt = (dtypes or {}).get(name, dtype)
        blob = _encode(arr, dt)
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        chunks.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for c in chunks:
            f.write(c)


def load_file(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str], Dict[str, str]]:
    """Read ``path``; returns (float32/int tensors, per-tensor stored dtype, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("safetensors file shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"header length {n} runs past the end of the file ({len(data)} bytes)")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    metadata = header.pop("__metadata__", {}) or {}
    out: Dict[str, np.ndarray] = {}
    stored: Dict[str, str] = {}
    for name, info in header.items():
        dt = info["dtype"]
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        raw = np.frombuffer(data[base + begin : base + end], dtype=_NUMPY_DTYPES[dt])
        arr = bf16_bits_to_f32(raw) if dt == "BF16" else raw
        if dt in ("F16",):
            arr = arr.astype(np.float32)
        out[name] = arr.reshape(shape).copy()
        stored[name] = dt
    return out, stored, metadata
