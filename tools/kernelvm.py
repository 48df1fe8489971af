#!/usr/bin/env python3
"""Run a command on Debian's newest (7.x) kernel in QEMU, against this
machine's own root filesystem, and return its exit code and output.

    python tools/kernelvm.py fetch                  # download and prepare
    python tools/kernelvm.py run [--timeout S] -- COMMAND [ARG ...]
    python tools/kernelvm.py info                   # what is cached

The io_uring BPF struct_ops (Linux 7.1+) only exist on newer kernels than
most machines run, so the tests of in-kernel chain programs boot one. The
kernel comes from Debian unstable (fetched by package name with apt and a
private sources list; the machine's own sources are left alone), boots under
software emulation (TCG) from its uncompressed ELF image through the PVH
entry, and mounts the host's / over virtiofs. COMMAND runs chrooted into it,
in the current directory, so the same checkout and the same Python run in
the guest. Output and exit code travel back through a directory on the host.

Why not virtme-ng (tried: 1.42 from PyPI, with this cached kernel): it boots
the image under TCG, but shares the host's root over 9p, which Debian's
cloud kernel has only as a module (the boot panics without a root; it would
need the kernel's module package and an initramfs of them), where this
harness mounts virtiofs, which that kernel has built in. It does not fetch
a distribution's kernel, retry the rare early panic, or hand back the
command's own exit code and output, so all of this file but the QEMU
command line would stay, plus a new dependency (Debian has virtme-ng only
in unstable).
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

CACHE = os.environ.get("AIOURING_KERNELVM_CACHE", "/var/cache/aiouring/kernelvm")
HOST_PACKAGES = ("qemu-system-x86", "busybox-static", "cpio", "zstd")
VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MEMORY_MB = 2048
# Early boot under TCG with several vCPUs very rarely panics while the kernel
# patches its own text; such a boot is simply retried.
BOOT_ATTEMPTS = 3

INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
/bin/busybox ip link set lo up || echo KERNELVM_NO_LOOPBACK
mkdir -p /mnt/host
mount -t virtiofs hostfs /mnt/host || echo KERNELVM_MOUNT_FAILED
mount -t proc proc /mnt/host/proc
mount -t sysfs sys /mnt/host/sys
mount -t devtmpfs dev /mnt/host/dev
mount -t devpts devpts /mnt/host/dev/pts 2>/dev/null
mount -t bpf bpf /mnt/host/sys/fs/bpf 2>/dev/null
mount -t tracefs tracefs /mnt/host/sys/kernel/tracing 2>/dev/null
job=$(sed -n 's/.*kernelvm.job=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
chroot /mnt/host /bin/sh "$job/run.sh"
echo KERNELVM_DONE
sync
poweroff -f
"""

RUN_SCRIPT = """#!/bin/sh
cd {cwd} || exit 97
export PATH={path} HOME={home} LANG=C.UTF-8 AIOURING_IN_KERNELVM=1
{env}
{command} > {job}/output.log 2>&1
echo $? > {job}/exit
sync
"""


def log(message):
    print(f"kernelvm: {message}", file=sys.stderr, flush=True)


def run(args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def ensure_host_packages():
    missing = [p for p in HOST_PACKAGES if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
        text=True).stdout.find("ok installed") < 0]
    if not missing:
        return
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                       *missing], env=env).returncode != 0:
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            env=env)


def debian_mirror():
    """The mirror the machine's own sources use, for the unstable suite."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            text = open(path).read()
        except OSError:
            continue
        match = re.search(r"^(?:URIs:|deb)\s+(?:\[[^]]*\]\s+)?(https?://\S+?/debian)/?\s",
                          text, re.MULTILINE)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


class UnstableApt:
    """apt with a private sources list, state and cache for Debian unstable."""

    def __init__(self, root):
        self.root = root
        for sub in ("lists/partial", "cache/archives/partial", "parts"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        self.sources = os.path.join(root, "sources.list")
        with open(self.sources, "w") as f:
            f.write(f"deb [signed-by={KEYRING}] {debian_mirror()} sid main\n")

    def options(self):
        return ["-o", f"Dir::Etc::sourcelist={self.sources}",
                "-o", f"Dir::Etc::sourceparts={self.root}/parts",
                "-o", f"Dir::State::Lists={self.root}/lists",
                "-o", f"Dir::Cache={self.root}/cache",
                "-o", "APT::Get::List-Cleanup=0"]

    def update(self):
        run(["apt-get", *self.options(), "update", "-q"], stdout=subprocess.DEVNULL)
        # apt-get update succeeds even when nothing could be fetched.
        if not any(name.endswith("_Packages") or "_Packages." in name
                   for name in os.listdir(os.path.join(self.root, "lists"))):
            raise SystemExit("kernelvm: could not fetch Debian unstable's package lists")

    def cloud_kernel_version(self):
        out = subprocess.run(["apt-cache", *self.options(), "depends",
                              "linux-image-cloud-amd64"], capture_output=True,
                             text=True, check=True).stdout
        match = re.search(r"linux-image-(\S+)-cloud-amd64", out)
        if not match:
            raise SystemExit("kernelvm: no linux-image-*-cloud-amd64 in Debian unstable")
        return match.group(1)

    def download(self, packages, into):
        run(["apt-get", *self.options(), "download", "-q", *packages], cwd=into,
            stdout=subprocess.DEVNULL)


def extract_vmlinux(vmlinuz, vmlinux):
    """The compressed image does not boot under emulation here: decompress
    the zstd payload into the ELF that QEMU boots through its PVH entry."""
    data = open(vmlinuz, "rb").read()
    start = data.find(ZSTD_MAGIC)
    if start < 0:
        raise SystemExit(f"kernelvm: no zstd payload in {vmlinuz}")
    # zstd complains about the bytes after the frame; the output is complete.
    with open(vmlinux, "wb") as out:
        subprocess.run(["zstd", "-dc"], input=data[start:], stdout=out,
                       stderr=subprocess.DEVNULL)
    if open(vmlinux, "rb").read(4) != b"\x7fELF":
        raise SystemExit("kernelvm: decompressed kernel is not an ELF image")


def build_initrd(path):
    with tempfile.TemporaryDirectory() as root:
        for sub in ("bin", "proc", "sys", "dev", "mnt"):
            os.makedirs(os.path.join(root, sub))
        shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
        init = os.path.join(root, "init")
        with open(init, "w") as f:
            f.write(INIT_SCRIPT)
        os.chmod(init, 0o755)
        files = subprocess.run(["find", "."], cwd=root, capture_output=True,
                               check=True).stdout
        archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                                 input=files, capture_output=True, check=True).stdout
        with open(path, "wb") as out:
            subprocess.run(["gzip", "-9"], input=archive, stdout=out, check=True)


def paths(version=None):
    current = os.path.join(CACHE, "current")
    if version is None:
        try:
            version = open(current).read().strip()
        except OSError:
            return None
    base = os.path.join(CACHE, version)
    return {
        "version": version,
        "base": base,
        "vmlinux": os.path.join(base, "vmlinux"),
        "config": os.path.join(base, "config"),
        "headers": os.path.join(base, "usr", "include"),
    }


def fetch(force=False):
    """Downloads Debian unstable's cloud kernel and its uapi headers."""
    ensure_host_packages()
    cached = paths()
    if cached and not force and all(os.path.exists(cached[k]) for k in
                                    ("vmlinux", "config")):
        return cached
    apt = UnstableApt(os.path.join(CACHE, "apt"))
    log("resolving Debian unstable's cloud kernel")
    apt.update()
    version = apt.cloud_kernel_version()
    found = paths(version)
    os.makedirs(found["base"], exist_ok=True)
    debs = os.path.join(found["base"], "debs")
    os.makedirs(debs, exist_ok=True)
    packages = [f"linux-binary-{version}-cloud-amd64",
                f"linux-base-{version}-cloud-amd64", "linux-libc-dev"]
    log(f"downloading {' '.join(packages)}")
    apt.download(packages, debs)
    unpacked = os.path.join(found["base"], "unpacked")
    for deb in os.listdir(debs):
        run(["dpkg-deb", "-x", os.path.join(debs, deb), unpacked])
    modules = os.path.join(unpacked, "usr", "lib", "modules", f"{version}-cloud-amd64")
    shutil.copy(os.path.join(modules, "config"), found["config"])
    config = open(found["config"]).read()
    for option in ("CONFIG_IO_URING=y", "CONFIG_VIRTIO_FS=y", "CONFIG_PVH=y"):
        if option not in config:
            raise SystemExit(f"kernelvm: kernel {version} lacks {option}")
    extract_vmlinux(os.path.join(modules, "vmlinuz"), found["vmlinux"])
    shutil.rmtree(os.path.join(found["base"], "usr"), ignore_errors=True)
    shutil.copytree(os.path.join(unpacked, "usr", "include"), found["headers"])
    shutil.rmtree(unpacked)
    with open(os.path.join(CACHE, "current"), "w") as f:
        f.write(version)
    log(f"kernel {version} ready in {found['base']}")
    return found


def boot(kernel, job_dir, timeout):
    """One boot; returns the console output."""
    initrd = os.path.join(job_dir, "initrd.gz")
    build_initrd(initrd)        # cheap, and always matches INIT_SCRIPT
    sock = os.path.join(job_dir, "virtiofs.sock")
    virtiofsd = subprocess.Popen(
        [VIRTIOFSD, f"--socket-path={sock}", "-o", "source=/", "-o", "sandbox=chroot",
         "-o", "cache=auto"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        qemu = [
            "qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max",
            "-m", str(MEMORY_MB), "-smp", str(min(2, os.cpu_count() or 1)),
            "-nographic", "-no-reboot",
            "-kernel", kernel["vmlinux"], "-initrd", initrd,
            "-append", f"console=ttyS0 panic=-1 quiet kernelvm.job={job_dir}",
            "-chardev", f"socket,id=vfs,path={sock}",
            "-device", "vhost-user-fs-pci,chardev=vfs,tag=hostfs",
            "-object", f"memory-backend-memfd,id=mem,size={MEMORY_MB}M,share=on",
            "-numa", "node,memdev=mem",
        ]
        try:
            proc = subprocess.run(qemu, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
            return proc.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode(errors="replace")
            return out + f"\nkernelvm: guest timed out after {timeout}s\n"
    finally:
        virtiofsd.kill()
        virtiofsd.wait()


def run_in_guest(command, timeout=900, env=None):
    """Boots the kernel, runs command (a list) there; returns (exit, output)."""
    kernel = fetch()
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in (env or {}).items())
    for attempt in range(1, BOOT_ATTEMPTS + 1):
        job_dir = tempfile.mkdtemp(prefix="kernelvm-", dir="/var/tmp")
        try:
            script = RUN_SCRIPT.format(
                cwd=shlex.quote(os.getcwd()), path=shlex.quote(os.environ.get(
                    "PATH", "/usr/bin:/bin")), home=shlex.quote(os.environ.get(
                        "HOME", "/root")), env=exports, job=job_dir,
                command=" ".join(shlex.quote(a) for a in command))
            with open(os.path.join(job_dir, "run.sh"), "w") as f:
                f.write(script)
            console = boot(kernel, job_dir, timeout)
            try:
                output = open(os.path.join(job_dir, "output.log")).read()
                code = int(open(os.path.join(job_dir, "exit")).read())
            except (OSError, ValueError):
                output, code = None, None
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)
        if code is not None:
            return code, output
        if "Kernel panic" in console and attempt < BOOT_ATTEMPTS:
            log(f"guest kernel panicked during boot; booting again ({attempt})")
            continue
        return 98, f"kernelvm: the guest produced no result\n--- console ---\n{console}"
    raise AssertionError("unreachable")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    fetch_parser = sub.add_parser("fetch", help="download and prepare the kernel")
    fetch_parser.add_argument("--force", action="store_true")
    sub.add_parser("info", help="print what is cached")
    run_parser = sub.add_parser("run", help="run a command in the guest")
    run_parser.add_argument("--timeout", type=float, default=900)
    run_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.action == "fetch":
        kernel = fetch(force=args.force)
        print(kernel["version"])
    elif args.action == "info":
        kernel = paths()
        print(kernel["version"] if kernel else "nothing cached")
    else:
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run needs a command")
        start = time.monotonic()
        code, output = run_in_guest(command, timeout=args.timeout)
        sys.stdout.write(output)
        log(f"guest command exited {code} after {time.monotonic() - start:.1f}s")
        sys.exit(code)


if __name__ == "__main__":
    main()
