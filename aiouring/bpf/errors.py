"""The errors of building and registering user chain programs."""

__all__ = ["ChainProgramError", "BuildError", "VerifierError"]


class ChainProgramError(Exception):
    """A user chain program could not be built or loaded. The base of
    BuildError and VerifierError."""


class BuildError(ChainProgramError):
    """`python -m aiouring.bpf build` (aiouring.bpf.build.build()) failed: a
    compiler is missing, or a source does not compile. ``output`` holds the
    compiler's messages (also in the exception's text) and ``command`` the
    command that failed (None when none ran)."""

    def __init__(self, message, output="", command=None):
        super().__init__(f"{message}\n{output}".rstrip() if output else message)
        self.output = output
        self.command = command


class VerifierError(ChainProgramError):
    """The kernel's BPF verifier rejected a bundle's dispatcher at
    register(): ``log`` (also the exception's text) holds libbpf's messages
    with the verifier log; its last lines say why."""

    def __init__(self, message, log=""):
        super().__init__(message)
        self.log = log
