"""Errors aiouring raises beyond the ones asyncio and the os module raise.
They are defined in the core (aiouring._ring), which raises them."""

from ._ring import (CANCELLED, ChainCancelledError, ChainError, ChainProgramError,
                    ChainTimeoutError, RingUnavailableError, VerifierError)

__all__ = ["RingUnavailableError", "ChainError", "ChainTimeoutError",
           "ChainCancelledError", "CANCELLED", "ChainProgramError", "VerifierError"]
