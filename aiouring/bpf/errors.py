"""The errors of building and registering user chain programs (the core
defines ChainProgramError and VerifierError; building is this package's)."""

from .._ring import ChainProgramError, VerifierError

__all__ = ["ChainProgramError", "BuildError", "VerifierError"]


class BuildError(ChainProgramError):
    """`python -m aiouring.bpf build` (aiouring.bpf.build.build()) failed: a
    compiler is missing, or a source does not compile. ``output`` holds the
    compiler's messages (also in the exception's text) and ``command`` the
    command that failed (None when none ran)."""

    def __init__(self, message, output="", command=None):
        super().__init__(f"{message}\n{output}".rstrip() if output else message)
        self.output = output
        self.command = command
