"""Python binding of the C runtime (ctypes), shaped like onnxruntime's API."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from edgec.errors import EdgecError, RuntimeStatusError
from edgec.program import NUMPY_DTYPES
from edgec.resources import find_installed

MAX_RANK = 8
_UNSUPPORTED = 6  # EC_ERR_UNSUPPORTED (runtime_c/include/edgec/edgec.h)
LIB_ENV = "EDGEC_RUNTIME_LIB"


class _TensorInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("dtype", ctypes.c_int),
        ("rank", ctypes.c_int32),
        ("shape", ctypes.c_int64 * MAX_RANK),
        ("size_bytes", ctypes.c_size_t),
    ]


class _SessionOptions(ctypes.Structure):
    _fields_ = [("threads", ctypes.c_int32), ("profile", ctypes.c_int32)]


def library_path() -> Path:
    """The shared runtime library: $EDGEC_RUNTIME_LIB, else the installed one."""
    override = os.environ.get(LIB_ENV)
    if override:
        return Path(override)
    found = find_installed("_lib/libedgec.so")
    if found is None:
        raise EdgecError("edgec runtime library not found; install with pip install -e .")
    return found


@cache
def _lib() -> ctypes.CDLL:
    path = library_path()
    if not path.exists():
        raise EdgecError(f"{path}: edgec runtime library not found")
    lib = ctypes.CDLL(str(path))
    vp, sz, cp = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p
    sigs: dict[str, list[object]] = {
        "ec_last_error": [ctypes.POINTER(cp)],
        "ec_model_open_bytes": [cp, sz, ctypes.POINTER(vp)],
        "ec_model_open_file": [cp, ctypes.POINTER(vp)],
        "ec_model_free": [vp],
        "ec_model_num_inputs": [vp, ctypes.POINTER(sz)],
        "ec_model_num_outputs": [vp, ctypes.POINTER(sz)],
        "ec_model_num_instructions": [vp, ctypes.POINTER(sz)],
        "ec_model_input_info": [vp, sz, ctypes.POINTER(_TensorInfo)],
        "ec_model_output_info": [vp, sz, ctypes.POINTER(_TensorInfo)],
        "ec_model_arena_size": [vp, ctypes.POINTER(sz)],
        "ec_session_create": [vp, ctypes.POINTER(_SessionOptions), ctypes.POINTER(vp)],
        "ec_session_free": [vp],
        "ec_session_set_input": [vp, sz, vp, sz],
        "ec_session_bind_input": [vp, sz, vp, sz],
        "ec_session_run": [vp],
        "ec_session_get_output": [vp, sz, ctypes.POINTER(vp), ctypes.POINTER(sz)],
        "ec_session_output_shape": [vp, sz, ctypes.POINTER(ctypes.c_int64),
                                    ctypes.POINTER(ctypes.c_int32)],
        "ec_model_output_dynamic_dims": [vp, sz, ctypes.POINTER(ctypes.c_uint32)],
        "ec_session_profile": [vp, sz, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(cp)],
    }
    for name, argtypes in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = ctypes.c_int
    lib.ec_status_name.argtypes = [ctypes.c_int]
    lib.ec_status_name.restype = cp
    return lib


def _check(status: int, context: str = "") -> None:
    if status == 0:
        return
    lib = _lib()
    msg = ctypes.c_char_p()
    lib.ec_last_error(ctypes.byref(msg))
    text = (msg.value or b"").decode("utf-8", "replace")
    if context:
        text = f"{context}: {text}"
    raise RuntimeStatusError(status, lib.ec_status_name(status).decode(), text)


@dataclass(frozen=True)
class NodeArg:
    """An input or output of a model, as onnxruntime's NodeArg."""

    name: str
    shape: list[int]
    type: str  # "tensor(float)" etc., as onnxruntime spells it
    dtype: np.dtype


_ORT_TYPE_NAMES = {
    "float32": "float", "float16": "float16", "int8": "int8", "uint8": "uint8",
    "int32": "int32", "int64": "int64", "bool": "bool", "float64": "double",
    "int16": "int16", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
    "bfloat16": "bfloat16",
}


def _node_arg(info: _TensorInfo) -> NodeArg:
    dtype = NUMPY_DTYPES[info.dtype]
    return NodeArg(
        name=info.name.decode("utf-8", "replace"),
        shape=[int(info.shape[i]) for i in range(info.rank)],
        type=f"tensor({_ORT_TYPE_NAMES[dtype.name]})",
        dtype=dtype,
    )


class Session:
    """Runs a compiled .edgeb program: `Session(path_or_bytes, threads=1)`."""

    def __init__(self, model: str | os.PathLike[str] | bytes, threads: int = 1,
                 profile: bool = False) -> None:
        lib = _lib()
        self._lib = lib
        self._model = ctypes.c_void_p()
        self._session = ctypes.c_void_p()
        if isinstance(model, (bytes, bytearray, memoryview)):
            data = bytes(model)
            _check(lib.ec_model_open_bytes(data, len(data), ctypes.byref(self._model)))
        else:
            path = os.fspath(model)
            _check(lib.ec_model_open_file(path.encode(), ctypes.byref(self._model)), path)
        opts = _SessionOptions(threads, 1 if profile else 0)
        _check(lib.ec_session_create(self._model, ctypes.byref(opts), ctypes.byref(self._session)))
        self._inputs = self._args(lib.ec_model_num_inputs, lib.ec_model_input_info)
        self._outputs = self._args(lib.ec_model_num_outputs, lib.ec_model_output_info)
        self._dynamic = []
        for i in range(len(self._outputs)):
            mask = ctypes.c_uint32()
            _check(lib.ec_model_output_dynamic_dims(self._model, i, ctypes.byref(mask)))
            self._dynamic.append(int(mask.value))
        # What run() looks up on every call, computed once.
        self._in_names = [a.name for a in self._inputs]
        self._in_set = frozenset(self._in_names)
        self._in_checks = [(i, a.name, a.dtype, tuple(a.shape)) for i, a in enumerate(self._inputs)]
        self._out_index = {a.name: i for i, a in enumerate(self._outputs)}
        self._all_outputs = list(range(len(self._outputs)))
        # Per input: None until a bind was tried, then whether the runtime reads it in place.
        self._bindable: list[bool | None] = [None] * len(self._inputs)
        self._bound: list[np.ndarray | None] = [None] * len(self._inputs)
        self._ptr, self._size = ctypes.c_void_p(), ctypes.c_size_t()
        self._ptr_ref, self._size_ref = ctypes.byref(self._ptr), ctypes.byref(self._size)
        # Per output: (address, bytes, numpy view of them) of the last run.
        self._views: list[tuple[int, int, np.ndarray] | None] = [None] * len(self._outputs)
        # Per output: whether its cached view's address was looked up since an input
        # was last put (an output's address changes only then: the output may be it).
        self._placed = [False] * len(self._outputs)

    def _args(self, count_fn: ctypes._CFuncPtr, info_fn: ctypes._CFuncPtr) -> list[NodeArg]:
        n = ctypes.c_size_t()
        _check(count_fn(self._model, ctypes.byref(n)))
        out = []
        for i in range(n.value):
            info = _TensorInfo()
            _check(info_fn(self._model, i, ctypes.byref(info)))
            out.append(_node_arg(info))
        return out

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def run(self, output_names: Sequence[str] | None,
            input_feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Runs the program on input_feed (name -> array of the input's dtype and shape)
        and returns copies of the outputs named (all when None), as onnxruntime does.
        C-contiguous, aligned arrays are read in place (ec_session_bind_input, never
        written); others, and inputs the program reads through views or writes over,
        are copied."""
        lib = self._lib
        session = self._session
        if input_feed.keys() != self._in_set:  # one C-level compare: a run starts cold
            names = self._in_names
            unknown = sorted(set(input_feed) - set(names))
            if unknown:
                raise EdgecError(f"unknown input {unknown[0]!r}; the model's inputs are {names}")
            missing = next(name for name in names if name not in input_feed)
            raise EdgecError(f"input {missing!r} was not given")
        for i, name, dtype, shape in self._in_checks:
            value = input_feed[name]
            if value is self._bound[i] and value.dtype is dtype and value.shape == shape:
                # Bound by an earlier run and read in place: nothing to do. Right after a
                # run numpy's code is out of the caches, and rebinding (ndarray.ctypes)
                # cost MobileNetV2 about 40 us of its 6.6 ms.
                continue
            if type(value) is not np.ndarray:
                value = np.asarray(value)
            if value.dtype != dtype:
                raise EdgecError(
                    f"input {name!r}: dtype {value.dtype}, the model expects {dtype}"
                )
            if value.shape != shape:
                raise EdgecError(
                    f"input {name!r}: shape {list(value.shape)}, "
                    f"the model expects {list(shape)}"
                )
            self._put_input(i, value)
        _check(lib.ec_session_run(session))
        if output_names is None:
            indices = self._all_outputs
        else:
            indices = []
            for name in output_names:
                if name not in self._out_index:
                    raise EdgecError(f"unknown output {name!r}; the model's outputs are "
                                     f"{list(self._out_index)}")
                indices.append(self._out_index[name])
        return [self._output(i) for i in indices]

    def _put_input(self, i: int, value: np.ndarray) -> None:
        """Binds the caller's array where the runtime can read it in place (C-contiguous,
        16-byte aligned, an input no instruction writes over); copies it otherwise."""
        lib = self._lib
        self._placed = [False] * len(self._placed)  # an output may be this input
        if self._bindable[i] is not False and value.flags.c_contiguous:
            address = value.ctypes.data
            if address % 16 == 0:
                status = lib.ec_session_bind_input(self._session, i, address, value.nbytes)
                if status == 0:
                    self._bindable[i] = True
                    self._bound[i] = value  # the runtime reads it until rebound
                    return
                if self._bindable[i] is None and status == _UNSUPPORTED:
                    self._bindable[i] = False  # the program reads its arena copy
                else:
                    _check(status)
        value = np.ascontiguousarray(value)
        _check(lib.ec_session_set_input(self._session, i, value.ctypes.data, value.nbytes))
        self._bound[i] = None

    def _output(self, i: int) -> np.ndarray:
        cached = self._views[i]
        if cached is not None and self._placed[i]:
            # No input was put since its address was looked up: it is where it was.
            return cached[2].copy()
        _check(self._lib.ec_session_get_output(self._session, i, self._ptr_ref, self._size_ref))
        address, size = self._ptr.value or 0, self._size.value
        self._placed[i] = True
        if cached is not None and cached[0] == address and cached[1] == size:
            # The arena is reused by the next run: hand out a copy.
            return cached[2].copy()
        arg = self._outputs[i]
        buf = (ctypes.c_char * size).from_address(address) if size else b""
        # In the actual shape: an output whose shape depends on the input values has
        # at most arg.shape.
        shape = self._output_shape(i) if self._dynamic[i] else arg.shape
        view = np.frombuffer(buf, dtype=arg.dtype).reshape(shape)
        if not self._dynamic[i] and size:
            self._views[i] = (address, size, view)
        return view.copy()

    def _output_shape(self, index: int) -> list[int]:
        dims = (ctypes.c_int64 * MAX_RANK)()
        rank = ctypes.c_int32()
        _check(self._lib.ec_session_output_shape(self._session, index, dims,
                                                 ctypes.byref(rank)))
        return [int(dims[k]) for k in range(rank.value)]

    def output_dynamic_dims(self) -> list[int]:
        """Per output, a bit per dim whose extent depends on the input values (its shape
        in get_outputs() is then an upper bound; run() returns the actual shape)."""
        return list(self._dynamic)

    def profile(self) -> list[tuple[str, float]]:
        """(op name, milliseconds) per instruction of the last run."""
        n = ctypes.c_size_t()
        _check(self._lib.ec_model_num_instructions(self._model, ctypes.byref(n)))
        out = []
        for i in range(n.value):
            ns, op = ctypes.c_uint64(), ctypes.c_char_p()
            _check(self._lib.ec_session_profile(self._session, i, ctypes.byref(ns),
                                                ctypes.byref(op)))
            out.append(((op.value or b"").decode(), ns.value / 1e6))
        return out

    def arena_size(self) -> int:
        n = ctypes.c_size_t()
        _check(self._lib.ec_model_arena_size(self._model, ctypes.byref(n)))
        return n.value

    def close(self) -> None:
        if getattr(self, "_session", None):
            self._lib.ec_session_free(self._session)
            self._session = ctypes.c_void_p()
        if getattr(self, "_model", None):
            self._lib.ec_model_free(self._model)
            self._model = ctypes.c_void_p()

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
