"""What this kernel lets aiouring do: probed once, then cached."""

import copy
import os
import threading

from . import _names
from .errors import RingUnavailableError

__all__ = ["features"]

_lock = threading.Lock()
_cached = None


def _probe_bpf_loop(_ring):
    """None if the chain dispatcher loads and attaches here, else why not."""
    if not _ring.program_ring_supported():
        return _ring.probe_program_ring("")     # the build's own reason
    if not _ring.bpf_ops_in_kernel_btf():
        return "the kernel has no io_uring BPF struct_ops (Linux 7.1+)"
    return _ring.probe_program_ring(_ring.dispatcher_object_path())


def _probe():
    from . import _ring

    result = {
        "kernel": os.uname().release,
        "io_uring": False,
        "unavailable_reason": None,
        "setup_flags": [],
        "features": [],
        "opcodes": [],
        "ext_arg": False,
        "provided_buffer_rings": False,
        "bpf_ops": _ring.bpf_ops_in_kernel_btf(),
        "bpf_loop": False,
        "bpf_loop_reason": None,
        "bpf_filters": False,
    }
    try:
        kernel = _ring.probe_kernel()
    except RingUnavailableError as exc:
        result["unavailable_reason"] = str(exc)
        result["bpf_loop_reason"] = "io_uring is not available"
        return result
    result["io_uring"] = True
    result["opcodes"] = [_names.opcode_name(op) for op in kernel["opcodes"]]
    result["features"] = [name for bit, name in enumerate(_names.FEATURES)
                          if kernel["features_mask"] & (1 << bit)]
    result["ext_arg"] = "EXT_ARG" in result["features"]
    result["provided_buffer_rings"] = kernel["provided_buffer_rings"]
    for name, bit in _names.SETUP_FLAGS.items():
        if name in _names.SETUP_FLAGS_NOT_PROBED:
            continue
        flags = bit
        for required in _names.SETUP_FLAG_REQUIRES.get(name, ()):
            flags |= _names.SETUP_FLAGS[required]
        if _ring.setup_flags_error(flags) == 0:
            result["setup_flags"].append(name)
    result["bpf_filters"] = _ring.bpf_filters_supported()
    result["bpf_loop_reason"] = _probe_bpf_loop(_ring)
    result["bpf_loop"] = result["bpf_loop_reason"] is None
    loop_ring = _ring.Ring()
    try:
        result["loop_setup"] = loop_ring.setup_mode
        result["ring_restricted"] = loop_ring.restricted
    finally:
        loop_ring.close()
    return result


def features():
    """A dict of what the running kernel supports, probed once per process:

    - ``kernel``: the kernel release;
    - ``io_uring``: whether a ring can be set up at all, and if not,
      ``unavailable_reason`` says why and how to fix it;
    - ``loop_setup``: the setup flags every loop's ring uses;
    - ``setup_flags``: every io_uring_setup flag the kernel accepts;
    - ``opcodes``: the operations the kernel supports (io_uring_probe);
    - ``features``: the IORING_FEAT_* bits the kernel reports;
    - ``provided_buffer_rings``: whether the kernel takes a provided buffer
      ring (stream transports receive into one; single-shot recv without);
    - ``bpf_ops``: whether the kernel has the io_uring BPF struct_ops (7.1+);
    - ``bpf_loop``: whether chain programs run in the kernel (the chain
      dispatcher loads and attaches here); if not, ``bpf_loop_reason``
      says why;
    - ``ring_restrictions``: what new loops' rings may issue (opcodes, SQE
      flags, register operations, BPF filters; see aiouring.restrictions),
      and ``ring_restricted``: whether the kernel locked a loop's ring to it;
    - ``bpf_filters``: whether the kernel runs io_uring BPF filters on SQEs
      (Linux 7.0+), which RingPolicy.with_filter() attaches.
    """
    global _cached
    with _lock:
        if _cached is None:
            _cached = _probe()
        found = copy.deepcopy(_cached)
    if found["io_uring"]:
        from . import _ring
        found["ring_restrictions"] = _ring.ring_policy().as_dict()
    return found
