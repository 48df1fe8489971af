"""`python -m aiouring info`: how this aiouring was built, then what this
machine lets it do, and why."""

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import sys

from . import __version__
from .features import features

DISTRIBUTION = "aiouring-loop"      # the name on the package index (pip install ...)
DESCRIPTION = ("Print how this aiouring was built (its version, liburing, whether the "
               "kernel path of chain programs is built in), then what the running kernel "
               "lets it do and why.")

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


def build_options():
    """How the extension this process loaded was built (setup.py records it
    in aiouring/_build_info.py, per extension file), or None for an
    extension built otherwise."""
    from . import _ring
    try:
        from ._build_info import BUILDS
    except ImportError:
        return None
    found = BUILDS.get(os.path.basename(_ring.__file__))
    return None if found is None else dict(found)


def _installed_version():
    """The installed distribution's version, or None (e.g. a plain checkout)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def report():
    """Everything `info` prints, as a dict."""
    found = features()
    found.update({
        "aiouring_version": __version__,
        "distribution": DISTRIBUTION,
        "distribution_version": _installed_version(),
        "package_dir": os.path.dirname(os.path.abspath(__file__)),
        "build": build_options(),
    })
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


def _format_build(info):
    version = info["aiouring_version"]
    lines = [f"aiouring        {version} ({info['package_dir']})"]
    if info["distribution_version"] not in (None, version):
        lines.append(f"  installed     {info['distribution']} {info['distribution_version']} "
                     "(metadata differs from the code: reinstall)")
    build = info["build"]
    if build is None:
        lines.append("  build         unknown (the extension was not built by setup.py)")
        return lines
    linkage = {"static": ", linked statically", "shared": ", linked as a shared library"}
    lines.append(f"  liburing      {build.get('liburing') or '(version unknown)'}"
                 + linkage.get(build.get("liburing_linkage"), ""))
    if build.get("kernel_path"):
        libbpf = build.get("libbpf") or "(version unknown)"
        lines.append(f"  kernel path   built in (dispatcher compiled to BPF; libbpf {libbpf})")
    else:
        lines.append(f"  kernel path   not built: {build.get('kernel_path_missing')}")
    lines.append(f"  built for     Python {build.get('python')}, {build.get('platform')}"
                 + (", debug build" if build.get("debug") else "")
                 + (", AddressSanitizer + UBSan" if build.get("sanitizers") else ""))
    return lines


def _format(info):
    lines = _format_build(info)
    lines += [f"kernel          {info['kernel']}",
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


def version_line():
    return f"aiouring {__version__}"


def add_arguments(parser):
    """The options of `info` (shared with python -m aiouring's subcommand)."""
    parser.add_argument("--json", action="store_true",
                        help="print everything as one JSON object")
    parser.add_argument("--version", action="version", version=version_line())


def run(args):
    """Prints the report; exit status 1 when io_uring cannot be used here."""
    info = report()
    print(json.dumps(info, indent=2, sort_keys=True) if args.json else _format(info))
    return 0 if info["io_uring"] else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m aiouring.info", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
