"""`python -m aiouring info`: what this machine lets aiouring do, and why."""

import json
import os
import platform
import resource
import sys

from .features import features

BPF_OPS_KERNEL = (7, 1)


def _kernel_version():
    try:
        return tuple(int(p) for p in platform.release().split("-")[0].split(".")[:2])
    except ValueError:
        return (0, 0)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _bpf_permission():
    """Whether this process may load BPF programs (CAP_BPF or CAP_SYS_ADMIN)."""
    status = _read("/proc/self/status") or ""
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            caps = int(line.split()[1], 16)
            cap_sys_admin, cap_bpf = 21, 39
            return bool(caps & (1 << cap_sys_admin) or caps & (1 << cap_bpf))
    return False


def _bpf_loop_reason(found):
    if found.get("bpf_loop"):
        return "in-kernel: the io_uring BPF struct_ops is available"
    if _kernel_version() < BPF_OPS_KERNEL:
        return (f"loop-side: kernel {platform.release()} predates the io_uring BPF "
                f"struct_ops (Linux {BPF_OPS_KERNEL[0]}.{BPF_OPS_KERNEL[1]}+)")
    if not found.get("bpf_ops"):
        return ("loop-side: this kernel's BTF has no io_uring_bpf_ops "
                "(built without CONFIG_IO_URING_BPF_OPS)")
    if not _bpf_permission():
        return "loop-side: loading BPF programs needs CAP_BPF or CAP_SYS_ADMIN"
    return "loop-side: in-kernel chain programs are not enabled in this build"


def report():
    """Everything `info` prints, as a dict."""
    found = features()
    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    found.update({
        "python": platform.python_version(),
        "io_uring_disabled_sysctl": _read("/proc/sys/kernel/io_uring_disabled"),
        "memlock_limit": None if soft == resource.RLIM_INFINITY else soft,
        "memlock_matters": _kernel_version() < (5, 12),
        "bpf_permission": _bpf_permission(),
        "bpf_loop_reason": _bpf_loop_reason(found),
    })
    return found


def _restrictions(info):
    policy = info.get("ring_restrictions") or {}
    if not policy.get("enabled"):
        return "off: a loop's ring may issue any request (AIOURING_RING_RESTRICTIONS=off)"
    if not info.get("ring_restricted"):
        return "NOT APPLIED: the kernel refused IORING_REGISTER_RESTRICTIONS"
    filters = policy.get("filters") or {}
    return (f"on: {len(policy['opcodes'])} opcodes ({' '.join(policy['opcodes'])}); "
            f"SQE flags {' '.join(policy['sqe_flags']) or 'none'}; register operations "
            f"{' '.join(policy['register_ops']) or 'none'}"
            + (f"; BPF filters on {' '.join(filters)}" if filters else "")
            + ("" if info.get("bpf_filters") else
               " (no io_uring BPF filters on this kernel: Linux 7.0+)"))


def _format(info):
    lines = [f"kernel          {info['kernel']}",
             f"python          {info['python']}"]
    if not info["io_uring"]:
        lines += ["io_uring        NOT AVAILABLE",
                  f"  why           {info['unavailable_reason']}"]
        return "\n".join(lines)
    lines += [
        "io_uring        available"
        + (f" (sysctl kernel.io_uring_disabled={info['io_uring_disabled_sysctl']})"
           if info["io_uring_disabled_sysctl"] not in (None, "0") else ""),
        f"loop ring setup {info['loop_setup'].replace('+', ' + ').upper()}",
        f"setup flags     {' '.join(info['setup_flags'])}",
        f"features        {' '.join(info['features'])}",
        f"opcodes ({len(info['opcodes'])})    {' '.join(info['opcodes'])}",
    ]
    if "provided_buffer_rings" in info:
        lines.append("provided bufs   "
                     + ("yes (IORING_REGISTER_PBUF_RING)" if info["provided_buffer_rings"]
                        else "no: receives use single-shot recv"))
    lines.append(f"bpf chains      {info['bpf_loop_reason']}")
    lines.append(f"restrictions    {_restrictions(info)}")
    limit = info["memlock_limit"]
    memlock = "unlimited" if limit is None else f"{limit // 1024} KiB"
    if info["memlock_matters"]:
        memlock += " (counts: rings use locked memory before Linux 5.12)"
    lines.append(f"memlock limit   {memlock}")
    return "\n".join(lines)


def main(argv):
    as_json = "--json" in argv
    info = report()
    print(json.dumps(info, indent=2, sort_keys=True) if as_json else _format(info))
    return 0 if info["io_uring"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
