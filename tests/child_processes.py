"""Child Pythons that get SIGINT as a terminal's Ctrl-C would reach them.

A shell without job control starts a background job (`cmd &`) with SIGINT
ignored, and its children inherit that; Python then leaves SIGINT ignored
instead of raising KeyboardInterrupt. Tests of Ctrl-C start their children
with SIGINT's default action, whatever started the suite.
"""

import signal


def sigint_as_from_a_terminal():
    """preexec_fn for subprocess: SIGINT back to its default action."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
