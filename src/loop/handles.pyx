# Callback handles, as asyncio.Handle / asyncio.TimerHandle, run without
# Python-level dispatch: the loop calls Handle.run directly.

from asyncio.format_helpers import (
    _format_callback_source as format_callback_source,
    extract_stack,
)
from sys import _getframe as sys_getframe

# Since Python 3.13 a handle's repr shows the callback's arguments in debug
# mode only.
cdef bint FORMAT_HIDES_ARGS = 'debug' in (format_callback_source.__kwdefaults__ or ())


cdef class Handle:
    """A callback scheduled with call_soon(); cancel() stops it running."""

    def __init__(self, callback, args, loop, context=None):
        self.callback = callback
        self.args = args
        self.loop = <Loop?>loop
        self.context = context if context is not None else PyContext_CopyCurrent()
        self._source_traceback = None
        if self.loop._debug:
            self._source_traceback = extract_stack(sys_getframe(0))

    cdef int run(self) except -1:
        cdef object callback = self.callback
        cdef tuple args = self.args
        cdef object context = self.context
        cdef object failure = None
        if PyContext_Enter(context) < 0:
            return -1
        try:
            if args is None or len(args) == 0:
                callback()
            elif len(args) == 1:
                callback(args[0])
            else:
                callback(*args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            failure = exc
        finally:
            PyContext_Exit(context)
        if failure is not None:
            # Outside the callback's context, as asyncio's Handle._run: since
            # Python 3.12 the exception handler runs in the handle's context.
            self.report(failure)
        return 0

    cdef report(self, exc):
        context = {
            'message': f'Exception in callback {self.format_callback()}',
            'exception': exc,
            'handle': self,
        }
        if self._source_traceback:
            context['source_traceback'] = self._source_traceback
        self.loop.call_exception_handler(context)

    def _run(self):
        self.run()

    def cancel(self):
        if not self._cancelled:
            self._cancelled = True
            self.callback = None
            self.args = None

    def cancelled(self):
        return self._cancelled

    def get_context(self):
        return self.context

    @property
    def _callback(self):
        return self.callback

    @property
    def _args(self):
        return self.args

    @property
    def _loop(self):
        return self.loop

    @property
    def _context(self):
        return self.context

    cdef str format_callback(self):
        if FORMAT_HIDES_ARGS:
            return format_callback_source(self.callback, self.args, debug=self.loop._debug)
        return format_callback_source(self.callback, self.args)

    cdef list repr_info(self):
        info = [type(self).__name__]
        if self._cancelled:
            info.append('cancelled')
        if self.callback is not None:
            info.append(self.format_callback())
        if self._source_traceback:
            frame = self._source_traceback[len(self._source_traceback) - 1]
            info.append(f'created at {frame[0]}:{frame[1]}')
        return info

    def __repr__(self):
        return '<{}>'.format(' '.join(self.repr_info()))


cdef class TimerHandle(Handle):
    """A callback scheduled with call_later()/call_at()."""

    def __init__(self, when, callback, args, loop, context=None):
        Handle.__init__(self, callback, args, loop, context)
        self._when = when

    def when(self):
        return self._when

    def cancel(self):
        if not self._cancelled:
            self.loop.timer_cancelled(self)
        Handle.cancel(self)

    cdef list repr_info(self):
        info = Handle.repr_info(self)
        info.insert(2 if self._cancelled else 1, f'when={self._when}')
        return info

    def __hash__(self):
        return hash(self._when)

    def __lt__(self, TimerHandle other):
        return self._when < other._when

    def __le__(self, TimerHandle other):
        return self._when < other._when or self is other

    def __gt__(self, TimerHandle other):
        return self._when > other._when

    def __ge__(self, TimerHandle other):
        return self._when > other._when or self is other

    def __eq__(self, other):
        if isinstance(other, TimerHandle):
            return (self._when == (<TimerHandle>other)._when
                    and self.callback == (<TimerHandle>other).callback
                    and self.args == (<TimerHandle>other).args
                    and self._cancelled == (<TimerHandle>other)._cancelled)
        return NotImplemented


cdef Handle new_handle(Loop loop, object callback, tuple args, object context):
    cdef Handle handle = Handle.__new__(Handle)
    handle.callback = callback
    handle.args = args
    handle.loop = loop
    handle.context = context if context is not None else PyContext_CopyCurrent()
    if loop._debug:
        handle._source_traceback = extract_stack(sys_getframe(0))
    return handle
