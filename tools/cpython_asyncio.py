#!/usr/bin/env python3
"""Run CPython's own asyncio test suite (test.test_asyncio) on a chosen loop.

    python tools/cpython_asyncio.py [--loop NAME] [--modules LIST] [--check]
                                    [--list-failures] [--json FILE] [-v]

The suite shipped with the running interpreter (its ``test`` package) is
used.  ``--loop`` names an importable package exposing ``EventLoopPolicy``
(and, when available, ``Loop`` and ``new_event_loop``), like ``aiouring``
(the default) or ``uvloop``; ``--loop asyncio`` runs the stock selector loop
through the same machinery as a baseline.

How the loop gets into the tests (done inside one worker process per module):

* A policy subclassing the loop's ``EventLoopPolicy`` is installed, and
  ``asyncio.events._init_event_loop_policy`` is replaced so that whenever a
  test resets the policy (``asyncio.set_event_loop_policy(None)``, which most
  modules do in tearDownModule/tearDown) the next lookup installs that
  policy again.  ``asyncio.new_event_loop()``, ``asyncio.run()``,
  ``asyncio.Runner`` and ``unittest.IsolatedAsyncioTestCase`` therefore all
  get the chosen loop.  Each test also starts from a fresh policy (some
  tests install their own policy or child watcher and never restore it).
* Modules that hardcode ``asyncio.SelectorEventLoop`` get generated test
  classes (named ``TargetLoop...``) built from the module's loop-agnostic
  mixins, with the loop factory returning the chosen loop; the hardcoded
  selector/proactor classes they replace are left out of the run.  See
  ``_patch_*`` below for the per-module details.
  test_futures/test_tasks get generated classes from their Base*Tests
  mixins (C Task/Future) whose ``new_test_loop`` returns the chosen loop;
  tests that need TestLoop's virtual clock (a time generator) are skipped
  there.  test_runners gets subclasses whose ``new_loop`` is the chosen loop.
* Tests built on ``test_utils.TestLoop`` (a virtual-clock BaseEventLoop
  subclass) or on explicit ``asyncio.SelectorEventLoop()`` mocks cannot run
  on another loop; they still run, and are reported as "not on loop".
* Two harness helpers are adapted without changing what tests check:
  ``test_utils.TestCase.close_loop`` (reads BaseEventLoop's private
  ``_default_executor``) and ``test_utils.run_until`` (its timeout path
  raises AttributeError on 3.11).

The loop package is imported from the environment; if it is not installed,
the repository root is tried as well (an in-place build).

Counting: every loop created through the policy or the generated classes
raises a per-test flag (reset in the result's startTest), which records
whether any loop of the chosen class was created during the test.  Only
tests with the flag set count towards the pass rate; the rest are reported
as "not on loop".  Skipped tests are counted apart.

Each module runs in its own subprocess with a per-module time budget and a
per-test hang limit.  If a worker crashes or hangs, the test it was in is
recorded as an error and the module resumes after it.

Expected failures live in tools/cpython_asyncio_known.txt (see its header).
"""

import argparse
import collections
import concurrent.futures
import contextlib
import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
DEFAULT_KNOWN = os.path.join(HERE, 'cpython_asyncio_known.txt')

CORE_MODULES = [
    'test_base_events', 'test_events', 'test_futures', 'test_tasks',
    'test_sock_lowlevel', 'test_locks', 'test_queues', 'test_timeouts',
    'test_waitfor', 'test_taskgroups', 'test_runners',
]
EXTRA_MODULES = [
    'test_streams', 'test_server', 'test_sendfile', 'test_subprocess',
    'test_ssl', 'test_sslproto', 'test_protocols', 'test_buffered_proto',
    'test_unix_events',
]
# Rough relative cost, used to start the slow modules first.
_COST = {'test_tasks': 20, 'test_ssl': 20, 'test_events': 15,
         'test_subprocess': 15, 'test_sslproto': 10, 'test_taskgroups': 8,
         'test_sendfile': 8, 'test_streams': 6}

PREFIX = 'TargetLoop'          # name prefix of the generated test classes
TB_LIMIT = 8000                # characters of traceback kept per failure


# ===========================================================================
# Worker side: runs inside the per-module subprocess.
# ===========================================================================

class _Target:
    """The chosen loop and the bookkeeping of loops handed out."""

    name = None
    loop_cls = None
    policy_cls = None
    tracking_policy_cls = None
    factory = None
    version = None

    touched = False            # per-test flag: a target loop was created
    emit_touch = None          # callback used to tell the parent


def _resolve_loop(name):
    """Import the loop package; return (policy_cls, loop_cls, factory, ver)."""
    import importlib
    import warnings
    if name == 'asyncio':
        import asyncio
        return (asyncio.DefaultEventLoopPolicy, asyncio.SelectorEventLoop,
                asyncio.SelectorEventLoop, sys.version.split()[0])
    mod = importlib.import_module(name)
    with warnings.catch_warnings():
        # uvloop deprecates EventLoopPolicy on newer Pythons.
        warnings.simplefilter('ignore', DeprecationWarning)
        policy_cls = getattr(mod, 'EventLoopPolicy', None)
    if policy_cls is None:
        raise ImportError(f'{name} has no EventLoopPolicy')
    loop_cls = getattr(mod, 'Loop', None)
    factory = getattr(mod, 'new_event_loop', None)
    if factory is None:
        def factory(_p=policy_cls):
            return _p().new_event_loop()
    version = getattr(mod, '__version__', None)
    if version is None:
        try:
            from importlib import metadata
            version = metadata.version(name)
        except Exception:
            version = '?'
    return policy_cls, loop_cls, factory, version


def _creating(make):
    """Create a loop through the target's factory/policy, flagging the test.

    The flag is raised before the loop is constructed so that a crash or
    hang inside the constructor is attributed to the loop; it is lowered
    again if what came back is not an instance of the target loop class.
    """
    was = _Target.touched
    if not was:
        _Target.touched = True
        if _Target.emit_touch is not None:
            _Target.emit_touch(True)
    loop = make()
    if (not was and _Target.loop_cls is not None and
            not isinstance(loop, _Target.loop_cls)):
        _Target.touched = False
        if _Target.emit_touch is not None:
            _Target.emit_touch(False)
    return loop


def _new_target_loop():
    """Factory used by the generated test classes."""
    return _creating(_Target.factory)


def _install_target(name):
    import asyncio
    import asyncio.events as events

    policy_cls, loop_cls, factory, version = _resolve_loop(name)

    class TrackingPolicy(policy_cls):
        def new_event_loop(self):
            return _creating(super().new_event_loop)

    TrackingPolicy.__name__ = TrackingPolicy.__qualname__ = (
        f'Tracking{policy_cls.__name__}')

    _Target.name = name
    _Target.loop_cls = loop_cls
    _Target.policy_cls = policy_cls
    _Target.tracking_policy_cls = TrackingPolicy
    _Target.factory = factory
    _Target.version = version

    def _init_event_loop_policy():
        # Runs whenever the policy is looked up while unset, i.e. after
        # asyncio.set_event_loop_policy(None): "None" means our policy.
        with events._lock:
            if events._event_loop_policy is None:
                events._event_loop_policy = TrackingPolicy()

    events._init_event_loop_policy = _init_event_loop_policy
    asyncio.set_event_loop_policy(TrackingPolicy())


def _patch_test_utils():
    """Harness adaptations that do not change what a test checks."""
    from test import support
    from test.test_asyncio import utils as test_utils
    import asyncio

    orig_close_loop = test_utils.TestCase.close_loop

    def close_loop(loop):
        # test_utils.TestCase.close_loop reads BaseEventLoop's private
        # `_default_executor`; loops that are not BaseEventLoop subclasses
        # (uvloop, aiouring) do not have it.  Use the public API instead.
        if hasattr(loop, '_default_executor'):
            return orig_close_loop(loop)
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        policy = support.maybe_get_event_loop_policy()
        if policy is not None:
            try:
                watcher = policy.get_child_watcher()
            except NotImplementedError:
                pass
            else:
                if isinstance(watcher, asyncio.ThreadedChildWatcher):
                    for thread in list(watcher._threads.values()):
                        thread.join(timeout=support.SHORT_TIMEOUT)
                        if thread.is_alive():
                            raise RuntimeError(
                                f"thread {thread} still alive: "
                                "subprocess still running")

    test_utils.TestCase.close_loop = staticmethod(close_loop)

    def run_until(loop, pred, timeout=support.SHORT_TIMEOUT):
        # Same as test_utils.run_until, whose timeout path raises
        # AttributeError (`futures.TimeoutError` does not exist in 3.11),
        # which hides what actually happened.
        deadline = time.monotonic() + timeout
        while not pred():
            if timeout is not None:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    raise TimeoutError(
                        'test_utils.run_until: condition not met in time')
            loop.run_until_complete(asyncio.sleep(0.001))

    test_utils.run_until = run_until


class _Patcher:
    """Adds generated classes to a module and records replaced ones."""

    def __init__(self, mod):
        self.mod = mod
        self.added = []
        self.dropped = []
        self.notes = []

    def has(self, *names):
        return all(hasattr(self.mod, n) for n in names)

    def drop(self, *names):
        for n in names:
            if hasattr(self.mod, n):
                self.dropped.append(n)

    def add(self, suffix, bases, attrs=None, doc=None):
        name = PREFIX + suffix
        ns = dict(attrs or {})
        ns['__module__'] = self.mod.__name__
        ns['__qualname__'] = name
        ns['__doc__'] = doc
        cls = type(name, tuple(bases), ns)
        setattr(self.mod, name, cls)
        self.added.append(name)
        return cls


def _create_event_loop(self):
    return _new_target_loop()


def _new_loop(self):
    return _new_target_loop()


class _RealLoopForTestLoop:
    """Replace test_utils.TestCase.new_test_loop with the target loop.

    Tests that pass a time generator rely on TestLoop's virtual clock; they
    are skipped here (the stock classes still run them on TestLoop).
    """

    def new_test_loop(self, gen=None):
        if gen is not None:
            self.skipTest('needs the virtual-clock test_utils.TestLoop')
        loop = _new_target_loop()
        self.set_event_loop(loop)
        return loop


# The per-selector (and Windows) variants of a module's tests: the runner
# replaces them with one class on the target loop.
_PLATFORM_LOOP_CLASSES = ('SelectEventLoopTests', 'EPollEventLoopTests',
                          'PollEventLoopTests', 'KqueueEventLoopTests',
                          'ProactorEventLoopTests')


def _patch_test_events(p):
    m = p.mod
    from test.test_asyncio import utils as test_utils
    if p.has('EventLoopTestsMixin', 'SubprocessTestsMixin'):
        # UnixEventLoopTestsMixin would attach a SafeChildWatcher to the
        # loop, which is selector-loop specific; the loop (through its
        # policy) is responsible for its own child handling.
        p.add('EventLoopTests',
              [m.EventLoopTestsMixin, m.SubprocessTestsMixin,
               test_utils.TestCase],
              {'create_event_loop': _create_event_loop})
        p.drop(*_PLATFORM_LOOP_CLASSES)


def _patch_test_sock_lowlevel(p):
    m = p.mod
    from test.test_asyncio import utils as test_utils
    if p.has('BaseSockTestsMixin'):
        p.add('SockTests', [m.BaseSockTestsMixin, test_utils.TestCase],
              {'create_event_loop': _create_event_loop})
        p.drop(*_PLATFORM_LOOP_CLASSES)


def _patch_test_sendfile(p):
    m = p.mod
    from test.test_asyncio import utils as test_utils
    if p.has('SendfileTestsBase'):
        p.add('SendfileTests', [m.SendfileTestsBase, test_utils.TestCase],
              {'create_event_loop': _create_event_loop})
        p.drop(*_PLATFORM_LOOP_CLASSES)


def _patch_test_futures(p):
    import asyncio
    m = p.mod
    from test.test_asyncio import utils as test_utils
    if p.has('BaseFutureTests'):
        p.add('FutureTests',
              [_RealLoopForTestLoop, m.BaseFutureTests, test_utils.TestCase],
              {'cls': asyncio.Future})
    if p.has('BaseFutureDoneCallbackTests'):
        p.add('FutureDoneCallbackTests',
              [_RealLoopForTestLoop, m.BaseFutureDoneCallbackTests,
               test_utils.TestCase],
              {'_new_future': lambda self: asyncio.Future(loop=self.loop)})
    if p.has('BaseFutureInheritanceTests'):
        p.add('FutureInheritanceTests',
              [_RealLoopForTestLoop, m.BaseFutureInheritanceTests,
               test_utils.TestCase],
              {'_get_future_cls': lambda self: asyncio.Future})


def _patch_test_tasks(p):
    import asyncio
    m = p.mod
    from test.test_asyncio import utils as test_utils
    if not p.has('BaseTaskTests'):
        return
    bases = [_RealLoopForTestLoop, m.BaseTaskTests]
    if p.has('SetMethodsTest'):
        bases.append(m.SetMethodsTest)
    bases.append(test_utils.TestCase)

    def setUp(self):
        # Same as BaseTaskTests.setUp, but tolerate loops whose instances
        # do not accept new attributes.
        super(m.BaseTaskTests, self).setUp()
        self.loop = self.new_test_loop()
        self.loop.set_task_factory(self.new_task)
        with contextlib.suppress(AttributeError):
            self.loop.create_future = lambda: self.new_future(self.loop)

    # Since 3.14 the mixin's tests also call self.all_tasks and
    # self.current_task, which the stock classes set to the implementations
    # that go with their Task; asyncio's public ones go with asyncio.Task.
    p.add('TaskTests', bases,
          {'Task': asyncio.Task, 'Future': asyncio.Future, 'setUp': setUp,
           'all_tasks': staticmethod(asyncio.all_tasks),
           'current_task': staticmethod(asyncio.current_task)})


def _runners_new_loop(self):
    # Same bookkeeping as test_runners.BaseTest.new_loop (which builds a
    # mocked BaseEventLoop), on the target loop.
    loop = _new_target_loop()
    loop.shutdown_ag_run = False
    orig = loop.shutdown_asyncgens

    async def shutdown_asyncgens():
        loop.shutdown_ag_run = True
        return await orig()

    loop.shutdown_asyncgens = shutdown_asyncgens
    return loop


def _patch_test_runners(p):
    m = p.mod
    # The stock classes run on a mocked BaseEventLoop (not on loop); the
    # generated subclasses run the same tests on the target loop.
    for name in ('RunTests', 'RunnerTests'):
        if p.has(name):
            p.add(name, [getattr(m, name)], {'new_loop': _runners_new_loop})


def _patch_test_server(p):
    m = p.mod
    if p.has('SelectorStartServerTests'):
        # Subclass the concrete class: it carries the unix-socket tests.
        p.add('StartServerTests', [m.SelectorStartServerTests],
              {'new_loop': _new_loop})
        p.drop('SelectorStartServerTests', 'ProactorStartServerTests')


def _patch_test_sslproto(p):
    import unittest
    m = p.mod
    if p.has('BaseStartTLS'):
        ssl_ok = getattr(m, 'ssl', None) is not None
        cls = p.add('StartTLSTests', [m.BaseStartTLS, unittest.TestCase],
                    {'new_loop': _new_loop})
        if not ssl_ok:
            unittest.skip('No ssl module')(cls)
        p.drop('SelectorStartTLSTests', 'ProactorStartTLSTests')


def _patch_test_buffered_proto(p):
    import unittest
    m = p.mod
    if p.has('BaseTestBufferedProtocol'):
        p.add('BufferedProtocolTests',
              [m.BaseTestBufferedProtocol, unittest.TestCase],
              {'new_loop': _new_loop})
        p.drop('BufferedProtocolSelectorTests',
               'BufferedProtocolProactorTests')


def _patch_test_subprocess(p):
    m = p.mod
    from test.test_asyncio import utils as test_utils
    if not p.has('SubprocessMixin'):
        return

    def setUp(self):
        super(cls, self).setUp()
        self.loop = _new_target_loop()
        self.set_event_loop(self.loop)

    cls = p.add('SubprocessTests', [m.SubprocessMixin, test_utils.TestCase],
                {'setUp': setUp})
    # The per-child-watcher classes exercise asyncio's selector-loop child
    # watchers; the target loop handles its children itself.
    p.drop('SubprocessThreadedWatcherTests', 'SubprocessMultiLoopWatcherTests',
           'SubprocessSafeWatcherTests', 'SubprocessFastWatcherTests',
           'SubprocessPidfdWatcherTests', 'SubprocessProactorTests')


_PATCHES = {
    'test_events': _patch_test_events,
    'test_sock_lowlevel': _patch_test_sock_lowlevel,
    'test_sendfile': _patch_test_sendfile,
    'test_futures': _patch_test_futures,
    'test_tasks': _patch_test_tasks,
    'test_runners': _patch_test_runners,
    'test_server': _patch_test_server,
    'test_sslproto': _patch_test_sslproto,
    'test_buffered_proto': _patch_test_buffered_proto,
    'test_subprocess': _patch_test_subprocess,
}


def _exc_summary(err):
    """First line of an exception from an exc_info triple."""
    etype, value = err[0], err[1]
    name = getattr(etype, '__qualname__', str(etype))
    mod = getattr(etype, '__module__', '')
    if mod not in ('builtins', '__main__', ''):
        name = f'{mod}.{name}'
    text = str(value)
    first = text.strip().splitlines()[0] if text.strip() else ''
    return f'{name}: {first}' if first else name


def _make_result_class(emit, verbose):
    import asyncio
    import traceback
    import unittest

    rank = {'pass': 0, 'skip': 0, 'fail': 1, 'error': 2}

    class Result(unittest.TestResult):
        """Aggregates per-test outcomes and streams them to the parent."""

        def __init__(self):
            super().__init__()
            self._cur = None

        def _fmt(self, err, test):
            try:
                return self._exc_info_to_string(err, test)[:TB_LIMIT]
            except Exception:
                return ''.join(traceback.format_exception(*err))[:TB_LIMIT]

        def startTest(self, test):
            super().startTest(test)
            # Every test starts with a fresh policy of the target loop:
            # some tests install a policy (a stock DefaultEventLoopPolicy,
            # a mock child watcher, ...) and never restore it.
            asyncio.set_event_loop_policy(None)
            _Target.touched = False
            self._cur = {'id': test.id(), 'outcome': None, 'msg': None,
                         'tb': None, 't0': time.monotonic()}
            emit({'ev': 'start', 'id': test.id()})

        def _set(self, outcome, err=None, test=None, reason=None):
            cur = self._cur
            if cur is None or (test is not None and
                               not isinstance(test, unittest.TestCase)):
                # Class/module fixture problem (_ErrorHolder).
                on_loop = _Target.touched
                rec = {'ev': 'fixture', 'id': str(test), 'outcome': outcome,
                       'on_loop': on_loop}
                if err is not None:
                    rec['msg'] = _exc_summary(err)
                    rec['tb'] = self._fmt(err, test)
                if reason is not None:
                    rec['msg'] = reason
                emit(rec)
                return
            old = cur['outcome']
            if outcome == 'skip':
                if old is None:
                    cur['outcome'] = 'skip'
                    cur['msg'] = reason
                return
            if old is None or old == 'skip' or rank[outcome] > rank[old]:
                cur['outcome'] = outcome
                if err is not None:
                    cur['msg'] = _exc_summary(err)
                    cur['tb'] = self._fmt(err, test)
                elif reason is not None:
                    cur['msg'] = reason

        def addSuccess(self, test):
            super().addSuccess(test)
            self._set('pass', test=test)

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self._set('fail', err, test)

        def addError(self, test, err):
            super().addError(test, err)
            self._set('error', err, test)

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            self._set('skip', test=test, reason=reason)

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self._set('pass', test=test)

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._set('fail', test=test, reason='unexpected success')

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                kind = ('fail' if issubclass(err[0], test.failureException)
                        else 'error')
                self._set(kind, err, test)

        def stopTest(self, test):
            super().stopTest(test)
            cur, self._cur = self._cur, None
            if cur is None:
                return
            if cur['outcome'] is None:
                # e.g. a subtest-only test whose subtests all passed
                cur['outcome'] = 'pass'
            rec = {'ev': 'result', 'id': cur['id'],
                   'outcome': cur['outcome'], 'on_loop': _Target.touched,
                   'dur': round(time.monotonic() - cur['t0'], 3)}
            if cur['outcome'] != 'pass':
                rec['msg'] = cur['msg']
                if cur['tb']:
                    rec['tb'] = cur['tb']
            emit(rec)
            _Target.touched = False
            if verbose:
                word = {'pass': 'ok', 'fail': 'FAIL', 'error': 'ERROR',
                        'skip': 'skipped'}[cur['outcome']]
                if cur['outcome'] == 'skip' and cur['msg']:
                    word += f' {cur["msg"]!r}'
                where = '' if rec['on_loop'] else '  [not on loop]'
                sys.__stderr__.write(f'{cur["id"]} ... {word}{where}\n')
                sys.__stderr__.flush()

    return Result


def _flatten(suite):
    import unittest
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item


def worker_main(args):
    """Run one test module; stream JSON-lines events to args.events."""
    import faulthandler
    import importlib
    import unittest

    # Prefer an installed package; fall back to an in-tree build.
    for extra in (REPO_ROOT, args.orig_cwd):
        if extra and extra not in sys.path:
            sys.path.append(extra)

    out = open(args.events, 'a', buffering=1, encoding='utf-8')
    lock = threading.Lock()

    def emit(rec):
        with lock:
            out.write(json.dumps(rec) + '\n')
            out.flush()

    faulthandler.enable()     # SIGABRT from the parent dumps the stacks

    try:
        _install_target(args.loop)
    except BaseException as e:
        emit({'ev': 'setup_error',
              'msg': f'cannot use loop {args.loop!r}: '
                     f'{type(e).__name__}: {e}'})
        return 3

    if args.probe:
        emit({'ev': 'probe', 'version': str(_Target.version),
              'policy': f'{_Target.policy_cls.__module__}.'
                        f'{_Target.policy_cls.__qualname__}',
              'loop': (f'{_Target.loop_cls.__module__}.'
                       f'{_Target.loop_cls.__qualname__}'
                       if _Target.loop_cls else None)})
        return 0

    current = {'id': None}

    def on_touch(flag):
        emit({'ev': 'loop', 'id': current['id'], 'on': flag})

    _Target.emit_touch = on_touch

    from test import support
    support.verbose = bool(args.verbose)

    modname = f'test.test_asyncio.{args.module}'
    try:
        _patch_test_utils()
        mod = importlib.import_module(modname)
        patcher = _Patcher(mod)
        patch = _PATCHES.get(args.module)
        if patch is not None:
            patch(patcher)
        suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
    except unittest.SkipTest as e:
        emit({'ev': 'plan', 'ids': [], 'added': [], 'dropped': [],
              'module_skip': str(e)})
        emit({'ev': 'done'})
        return 0
    except BaseException as e:
        import traceback
        emit({'ev': 'setup_error',
              'msg': f'cannot load {modname}: {type(e).__name__}: {e}',
              'tb': traceback.format_exc()[:TB_LIMIT]})
        return 3

    dropped = set(patcher.dropped)
    tests = [t for t in _flatten(suite)
             if not (type(t).__module__ == modname and
                     type(t).__name__ in dropped)]
    exclude = set()
    if args.exclude:
        with open(args.exclude, encoding='utf-8') as f:
            exclude = {line.strip() for line in f if line.strip()}
    if args.match:
        tests = [t for t in tests
                 if any(fnmatch.fnmatchcase(t.id(), '*' + pat + '*')
                        for pat in args.match)]
    emit({'ev': 'plan', 'ids': [t.id() for t in tests],
          'added': patcher.added, 'dropped': sorted(dropped)})
    tests = [t for t in tests if t.id() not in exclude]

    Result = _make_result_class(emit, args.verbose)
    result = Result()
    orig_start = result.startTest

    def start(test):
        current['id'] = test.id()
        orig_start(test)

    result.startTest = start
    run_suite = unittest.TestSuite(tests)
    run_suite(result)
    emit({'ev': 'done'})
    out.close()
    # Skip interpreter teardown: leftover threads or loops of a broken
    # loop implementation must not turn a finished run into a hang.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# ===========================================================================
# Parent side.
# ===========================================================================

class ModuleRun:
    def __init__(self, name):
        self.name = name
        self.status = 'ok'          # ok | timeout | crashed | error
        self.status_msg = ''
        self.plan = None
        self.added = []
        self.dropped = []
        self.results = collections.OrderedDict()    # id -> record
        self.fixtures = []
        self.restarts = 0
        self.duration = 0.0
        self.log_tail = ''
        self.module_skip = None

    # counts ------------------------------------------------------------
    def counts(self):
        c = collections.Counter()
        for r in self.results.values():
            if r['outcome'] == 'skip':
                c['skipped'] += 1
            elif not r['on_loop']:
                c['not_on_loop'] += 1
                if r['outcome'] != 'pass':
                    c['not_on_loop_failed'] += 1
            else:
                c['on_loop'] += 1
                c[{'pass': 'passed', 'fail': 'failed',
                   'error': 'errors'}[r['outcome']]] += 1
        for f in self.fixtures:
            if f['outcome'] in ('fail', 'error'):
                key = 'on_loop' if f['on_loop'] else 'not_on_loop'
                c[key] += 1
                if f['on_loop']:
                    c['errors'] += 1
                else:
                    c['not_on_loop_failed'] += 1
        if self.plan is not None:
            c['not_run'] = sum(1 for t in self.plan if t not in self.results)
        for k in ('on_loop', 'passed', 'failed', 'errors', 'skipped',
                  'not_on_loop', 'not_on_loop_failed', 'not_run'):
            c.setdefault(k, 0)
        return dict(c)

    def failures(self):
        """(id, outcome, msg, on_loop, tb) of every failed test/fixture."""
        out = []
        for r in self.results.values():
            if r['outcome'] in ('fail', 'error'):
                out.append(r)
        for f in self.fixtures:
            if f['outcome'] in ('fail', 'error'):
                out.append(f)
        return out


def _read_events(path, pos):
    """Return (new complete records, new position)."""
    recs = []
    try:
        with open(path, 'rb') as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        return recs, pos
    end = data.rfind(b'\n')
    if end < 0:
        return recs, pos
    for line in data[:end].splitlines():
        if line.strip():
            try:
                recs.append(json.loads(line))
            except ValueError:
                pass
    return recs, pos + end + 1


def _tail(path, n=40):
    try:
        with open(path, 'rb') as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 16384))
            data = f.read().decode('utf-8', 'replace')
    except OSError:
        return ''
    return '\n'.join(data.splitlines()[-n:])


def _innermost_frame(log_text):
    """Innermost frame of the main thread from a faulthandler dump."""
    lines = log_text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith('Current thread'):
            for line in lines[i + 1:]:
                line = line.strip()
                if line.startswith('File '):
                    # File "/path/x.py", line 12 in func
                    try:
                        path, rest = line[6:].split('", line ', 1)
                        lineno, _, func = rest.partition(' in ')
                        return f'{os.path.basename(path)}:{lineno} {func}'
                    except ValueError:
                        return line
            break
    return None


def _kill_group(proc, dump_first):
    """Stop a worker (and whatever it spawned): its own process group."""
    if dump_first and proc.poll() is None:
        # faulthandler in the worker prints every thread's stack on SIGABRT
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGABRT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=10)


_ACTIVE = set()
_ACTIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _sigint_default():
    """The tests of Ctrl-C expect SIGINT's default action, as under a
    terminal; a suite started as a background job of a shell without job
    control inherits it ignored (they would hang)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _worker_cmd(args, module, events, exclude=None, probe=False):
    cmd = [sys.executable, os.path.abspath(__file__), '--worker',
           '--loop', args.loop, '--events', events,
           '--orig-cwd', os.getcwd()]
    if probe:
        cmd.append('--probe')
    else:
        cmd += ['--module', module]
    if exclude:
        cmd += ['--exclude', exclude]
    if args.verbose:
        cmd.append('-v')
    for pat in args.match or ():
        cmd += ['--match', pat]
    return cmd


def probe_loop(args, tmpdir):
    events = os.path.join(tmpdir, 'probe.jsonl')
    log = os.path.join(tmpdir, 'probe.log')
    with open(log, 'wb') as logf:
        try:
            proc = subprocess.run(_worker_cmd(args, None, events, probe=True),
                                  stdout=logf, stderr=subprocess.STDOUT,
                                  cwd=tmpdir, timeout=120)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = 'timeout'
    recs, _ = _read_events(events, 0)
    for r in recs:
        if r['ev'] == 'probe':
            return r, None
        if r['ev'] == 'setup_error':
            return None, r['msg']
    return None, f'probe worker failed (exit {rc}): {_tail(log, 15)}'


def run_module(args, module, tmpdir):
    mr = ModuleRun(module)
    moddir = os.path.join(tmpdir, module)
    os.makedirs(moddir, exist_ok=True)
    log_path = os.path.join(moddir, 'worker.log')
    t_start = time.monotonic()
    deadline = t_start + args.timeout
    attempt = 0

    while True:
        attempt += 1
        events = os.path.join(moddir, f'events{attempt}.jsonl')
        exclude = None
        if mr.results:
            exclude = os.path.join(moddir, f'exclude{attempt}.txt')
            with open(exclude, 'w', encoding='utf-8') as f:
                f.write('\n'.join(mr.results) + '\n')
        logf = open(log_path, 'ab')
        out = None if args.verbose else logf
        proc = subprocess.Popen(
            _worker_cmd(args, module, events, exclude),
            stdout=out, stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL, cwd=moddir, start_new_session=True,
            preexec_fn=_sigint_default)
        with _ACTIVE_LOCK:
            _ACTIVE.add(proc)
        pos = 0
        current = None       # id of the test in progress
        current_t0 = None
        current_on_loop = False
        done = False
        killed_for = None
        setup_error = None

        def handle(recs):
            nonlocal current, current_t0, current_on_loop, done, setup_error
            for r in recs:
                ev = r['ev']
                if ev == 'plan':
                    if mr.plan is None:
                        mr.plan = r['ids']
                        mr.added = r['added']
                        mr.dropped = r['dropped']
                        mr.module_skip = r.get('module_skip')
                elif ev == 'start':
                    current, current_t0 = r['id'], time.monotonic()
                    current_on_loop = False
                elif ev == 'loop':
                    if r.get('id') == current:
                        current_on_loop = r.get('on', True)
                elif ev == 'result':
                    r = dict(r)
                    del r['ev']
                    mr.results[r['id']] = r
                    current = None
                elif ev == 'fixture':
                    r = dict(r)
                    del r['ev']
                    mr.fixtures.append(r)
                elif ev == 'done':
                    done = True
                elif ev == 'setup_error':
                    setup_error = r

        while True:
            try:
                rc = proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                rc = None
            recs, pos = _read_events(events, pos)
            handle(recs)
            if rc is not None:
                break
            now = time.monotonic()
            if _STOPPING.is_set():
                killed_for = 'interrupted'
                _kill_group(proc, dump_first=False)
                break
            if now > deadline:
                killed_for = 'timeout'
                _kill_group(proc, dump_first=True)
                break
            if (current is not None and
                    now - current_t0 > args.test_timeout):
                killed_for = 'hang'
                _kill_group(proc, dump_first=True)
                break
        # stragglers spawned by tests
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with _ACTIVE_LOCK:
            _ACTIVE.discard(proc)
        logf.close()
        recs, pos = _read_events(events, pos)
        handle(recs)

        if done:
            break
        if setup_error is not None:
            mr.status = 'error'
            mr.status_msg = setup_error['msg']
            mr.log_tail = setup_error.get('tb') or _tail(log_path)
            break
        if killed_for == 'interrupted':
            mr.status, mr.status_msg = 'error', 'interrupted'
            break
        rc = proc.returncode
        if killed_for == 'timeout':
            what = (f'module time budget of {args.timeout:.0f}s '
                    f'exceeded')
        elif killed_for == 'hang':
            what = f'hung: no result after {args.test_timeout:.0f}s'
        elif rc is not None and rc < 0:
            try:
                what = f'worker crashed: {signal.Signals(-rc).name}'
            except ValueError:
                what = f'worker crashed: signal {-rc}'
        else:
            what = f'worker exited unexpectedly (exit code {rc})'
        mr.log_tail = _tail(log_path)
        where = _innermost_frame(mr.log_tail)
        if where and killed_for in ('hang', 'timeout'):
            what += f' (at {where})'
        if current is not None:
            mr.results[current] = {
                'id': current, 'outcome': 'error', 'on_loop': current_on_loop,
                'msg': what, 'dur': round(time.monotonic() - current_t0, 3),
                'tb': mr.log_tail}
        if killed_for == 'timeout':
            mr.status, mr.status_msg = 'timeout', what
            break
        if current is None:
            # died outside any test: nothing to skip past
            mr.status, mr.status_msg = 'crashed', what
            break
        mr.restarts += 1
        if mr.restarts > args.max_restarts:
            mr.status = 'crashed'
            mr.status_msg = f'{what}; gave up after {args.max_restarts} restarts'
            break
        if time.monotonic() > deadline:
            mr.status, mr.status_msg = 'timeout', what
            break
        # otherwise: resume after the culprit
    mr.duration = time.monotonic() - t_start
    if mr.status == 'ok' and mr.restarts:
        mr.status_msg = f'{mr.restarts} restart(s) after crash/hang'
    return mr


def load_known(path):
    """Parse the known-failures file: `test.id  # reason` per line."""
    known = collections.OrderedDict()
    if not path or not os.path.exists(path):
        return known
    with open(path, encoding='utf-8') as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith('#'):
                continue
            tid, sep, reason = line.partition('#')
            tid = tid.strip()
            reason = reason.strip() if sep else ''
            if tid.startswith('['):
                versions, _, tid = tid[1:].partition(']')
                if not _version_matches(versions.strip()):
                    continue
                tid = tid.strip()
            if not tid:
                continue
            known[tid] = reason or '(no reason given)'
    return known


def _version_matches(spec, version=sys.version_info[:2]):
    """`3.13` is that Python version only, `3.12+` that one and later."""
    later = spec.endswith('+')
    wanted = tuple(int(n) for n in spec.rstrip('+').split('.'))
    return version >= wanted if later else version == wanted


def known_reason(known, tid):
    if tid in known:
        return known[tid]
    for pat, reason in known.items():
        if any(ch in pat for ch in '*?[') and fnmatch.fnmatchcase(tid, pat):
            return reason
    return None


def parse_modules(spec):
    mods = []
    for part in spec.split(','):
        part = part.strip()
        if not part:
            continue
        if part == 'all':
            mods += CORE_MODULES + EXTRA_MODULES
        elif part == 'core':
            mods += CORE_MODULES
        else:
            if part.startswith('test.test_asyncio.'):
                part = part[len('test.test_asyncio.'):]
            if not part.startswith('test_'):
                part = 'test_' + part
            mods.append(part)
    seen = set()
    return [m for m in mods if not (m in seen or seen.add(m))]


def _rate(passed, on_loop):
    return (100.0 * passed / on_loop) if on_loop else None


def _fmt_rate(r):
    return '    -' if r is None else f'{r:5.1f}%'


def print_table(runs, modules, out):
    cols = ('module', 'on-loop', 'passed', 'failed', 'errors', 'skipped',
            'not-on-loop', 'rate', 'time', 'status')
    width = max([len(m) for m in modules] + [len('TOTAL (core)'), 6])
    head = (f'{cols[0]:<{width}}  {cols[1]:>7} {cols[2]:>6} {cols[3]:>6} '
            f'{cols[4]:>6} {cols[5]:>7} {cols[6]:>11} {cols[7]:>6} '
            f'{cols[8]:>6}  {cols[9]}')
    print(head, file=out)
    print('-' * len(head), file=out)

    def row(label, c, dur, status):
        print(f'{label:<{width}}  {c["on_loop"]:>7} {c["passed"]:>6} '
              f'{c["failed"]:>6} {c["errors"]:>6} {c["skipped"]:>7} '
              f'{c["not_on_loop"]:>11} '
              f'{_fmt_rate(_rate(c["passed"], c["on_loop"])):>6} '
              f'{dur:>5.0f}s  {status}', file=out)

    totals = collections.Counter()
    core = collections.Counter()
    tdur = cdur = 0.0
    for m in modules:
        mr = runs[m]
        c = mr.counts()
        status = mr.status
        if mr.status_msg:
            status += f' ({mr.status_msg})'
        if c['not_run']:
            status += f' [{c["not_run"]} not run]'
        if mr.module_skip:
            status = f'skipped ({mr.module_skip})'
        row(m, c, mr.duration, status)
        totals.update(c)
        tdur += mr.duration
        if m in CORE_MODULES:
            core.update(c)
            cdur += mr.duration
    for k in ('on_loop', 'passed', 'failed', 'errors', 'skipped',
              'not_on_loop'):
        totals.setdefault(k, 0)
        core.setdefault(k, 0)
    print('-' * len(head), file=out)
    in_core = [m for m in modules if m in CORE_MODULES]
    if in_core and len(in_core) != len(modules):
        row('TOTAL (core)', core, cdur, '')
    row('TOTAL', totals, tdur, '')
    return dict(totals), dict(core)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Run CPython's test.test_asyncio on a chosen event loop.")
    ap.add_argument('--loop', default='aiouring',
                    help='loop package (aiouring, uvloop, ...) or "asyncio" '
                         '(default: aiouring)')
    ap.add_argument('--modules', default='core',
                    help='comma-separated test modules; "core" (default), '
                         '"all" = core + ' + ','.join(EXTRA_MODULES))
    ap.add_argument('--check', action='store_true',
                    help='exit 1 if the pass rate of the selected modules is below --min-rate, '
                         'if no test ran on the loop, or if a core module '
                         'did not complete')
    ap.add_argument('--min-rate', type=float, default=95.0,
                    help='pass-rate threshold for --check (default 95)')
    ap.add_argument('--list-failures', action='store_true',
                    help='print every failing test id with its exception')
    ap.add_argument('--json', metavar='FILE', help='write full results')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='show each test as it runs')
    ap.add_argument('-j', '--jobs', type=int,
                    default=min(2, os.cpu_count() or 1),
                    help='modules run in parallel (default: min(2, CPUs))')
    ap.add_argument('--timeout', type=float, default=300.0,
                    help='time budget per module in seconds (default 300)')
    ap.add_argument('--test-timeout', type=float, default=60.0,
                    help='a single test running longer is considered hung '
                         '(default 60)')
    ap.add_argument('--max-restarts', type=int, default=10,
                    help='worker restarts per module after crashes/hangs')
    ap.add_argument('--known', default=DEFAULT_KNOWN,
                    help='known-failures file (default: %(default)s)')
    ap.add_argument('--match', action='append', metavar='PATTERN',
                    help='only run tests whose id contains PATTERN '
                         '(fnmatch; repeatable)')
    ap.add_argument('--log-dir', help='keep worker logs and event files here')
    # worker-only options
    ap.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--probe', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--module', help=argparse.SUPPRESS)
    ap.add_argument('--events', help=argparse.SUPPRESS)
    ap.add_argument('--exclude', help=argparse.SUPPRESS)
    ap.add_argument('--orig-cwd', help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        return worker_main(args)

    modules = parse_modules(args.modules)
    if not modules:
        ap.error('no modules selected')
    import importlib.util
    unknown = [m for m in modules
               if importlib.util.find_spec(f'test.test_asyncio.{m}') is None]
    if unknown:
        ap.error(f'no such test module(s): {", ".join(unknown)}')

    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)
        tmpdir = os.path.abspath(args.log_dir)
    else:
        tmpdir = tempfile.mkdtemp(prefix='cpython_asyncio_')
    try:
        return _run(args, modules, tmpdir)
    finally:
        if not args.log_dir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _run(args, modules, tmpdir):
    out = sys.stdout
    t0 = time.monotonic()
    pyver = sys.version.split()[0]
    known = load_known(args.known)

    info, err = probe_loop(args, tmpdir)
    if info is None:
        print(f'cpython-asyncio: {err}', file=out)
        print('cpython-asyncio: 0 passed, 0 failed', file=out)
        if args.json:
            with open(args.json, 'w', encoding='utf-8') as f:
                json.dump({'loop': args.loop, 'python': pyver,
                           'setup_error': err}, f, indent=2)
        return 1 if args.check else 2

    print(f'CPython {pyver} test.test_asyncio on loop {args.loop!r} '
          f'({info["loop"] or info["policy"]} {info["version"]}), '
          f'{len(modules)} module(s), {args.jobs} job(s)', file=out)
    out.flush()

    runs = {}
    order = sorted(modules, key=lambda m: -_COST.get(m, 1))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1,
                                                                 args.jobs))
    futs = {pool.submit(run_module, args, m, tmpdir): m for m in order}
    try:
        for n, fut in enumerate(concurrent.futures.as_completed(futs), 1):
            m = futs[fut]
            mr = runs[m] = fut.result()
            c = mr.counts()
            extra = f'  {mr.status}' if mr.status != 'ok' else ''
            print(f'[{n:2}/{len(modules)}] {m:<20} {mr.duration:6.1f}s  '
                  f'on-loop {c["on_loop"]:4}  passed {c["passed"]:4}  '
                  f'failed {c["failed"] + c["errors"]:3}  '
                  f'not-on-loop {c["not_on_loop"]:4}{extra}', file=out)
            out.flush()
    except KeyboardInterrupt:
        _STOPPING.set()
        with _ACTIVE_LOCK:
            for p in list(_ACTIVE):
                with contextlib.suppress(ProcessLookupError,
                                         PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
        pool.shutdown(wait=True, cancel_futures=True)
        print('interrupted', file=sys.stderr)
        return 130
    pool.shutdown()

    print(file=out)
    totals, core = print_table(runs, modules, out)

    # failures: known / unknown ----------------------------------------
    unknown_f, known_f, offloop_f = [], [], []
    for m in modules:
        for r in runs[m].failures():
            reason = known_reason(known, r['id'])
            item = (m, r, reason)
            if not r['on_loop']:
                offloop_f.append(item)
            elif reason is None:
                unknown_f.append(item)
            else:
                known_f.append(item)
    stale = []
    for m in modules:
        for r in runs[m].results.values():
            if r['outcome'] == 'pass' and r['on_loop'] and \
                    r['id'] in known:
                stale.append(r['id'])

    print(file=out)
    print(f'on-loop failures: {len(unknown_f)} unknown, {len(known_f)} known'
          f' (known list: {len(known)} entr{"y" if len(known) == 1 else "ies"})'
          + (f'; {len(offloop_f)} failure(s) in tests not on the loop'
             if offloop_f else '')
          + (f'; {len(stale)} known entr{"y" if len(stale) == 1 else "ies"} '
             'now pass' if stale else ''), file=out)
    for m in modules:
        mr = runs[m]
        if mr.status != 'ok':
            print(f'  {m}: {mr.status}: {mr.status_msg}', file=out)

    if args.list_failures:
        def show(title, items, with_reason=False):
            if not items:
                return
            print(f'\n{title} ({len(items)}):', file=out)
            for _, r, reason in items:
                kind = 'FAIL ' if r['outcome'] == 'fail' else 'ERROR'
                print(f'  {kind} {r["id"]}', file=out)
                if with_reason:
                    print(f'        known: {reason}', file=out)
                print(f'        {r.get("msg") or ""}', file=out)
        show('Unknown failures on the loop', unknown_f)
        show('Known failures on the loop', known_f, with_reason=True)
        show('Failures in tests that did not run on the loop', offloop_f)
        if stale:
            print(f'\nKnown-failure entries that passed ({len(stale)}):',
                  file=out)
            for tid in stale:
                print(f'  {tid}', file=out)
        for m in modules:
            mr = runs[m]
            if mr.status != 'ok' and mr.log_tail:
                print(f'\n{m} worker log (tail):', file=out)
                print('    ' + mr.log_tail.replace('\n', '\n    '), file=out)

    # check ---------------------------------------------------------------
    check_mods = modules
    cc = collections.Counter()
    for m in check_mods:
        cc.update(runs[m].counts())
    c_on = cc['on_loop']
    c_rate = _rate(cc['passed'], c_on)
    incomplete = [m for m in check_mods
                  if runs[m].status in ('timeout', 'crashed', 'error')]
    check_problems = []
    if c_on == 0:
        check_problems.append('no test ran on the loop')
    elif c_rate < args.min_rate:
        check_problems.append(f'pass rate {c_rate:.1f}% < {args.min_rate}%')
    if incomplete:
        check_problems.append('incomplete module(s): ' + ', '.join(incomplete))

    elapsed = time.monotonic() - t0
    scope = 'core' if set(modules) <= set(CORE_MODULES) else 'selected'
    print(f'\n{scope} pass rate: {_fmt_rate(c_rate).strip()} '
          f'({cc["passed"]}/{c_on} on-loop tests), '
          f'elapsed {elapsed:.0f}s', file=out)

    if args.json:
        doc = {
            'loop': args.loop, 'loop_info': info, 'python': pyver,
            'modules': {}, 'totals': totals, 'core_totals': core,
            'check': {'scope': check_mods, 'min_rate': args.min_rate,
                      'rate': c_rate, 'problems': check_problems,
                      'ok': not check_problems},
            'known_file': args.known, 'stale_known': stale,
            'elapsed': round(elapsed, 1),
        }
        for m in modules:
            mr = runs[m]
            tests = []
            for r in mr.results.values():
                r = dict(r)
                if r['outcome'] in ('fail', 'error') and r['on_loop']:
                    r['known'] = known_reason(known, r['id'])
                tests.append(r)
            doc['modules'][m] = {
                'status': mr.status, 'status_msg': mr.status_msg,
                'counts': mr.counts(),
                'rate': _rate(mr.counts()['passed'], mr.counts()['on_loop']),
                'duration': round(mr.duration, 2), 'restarts': mr.restarts,
                'generated_classes': mr.added,
                'replaced_classes': mr.dropped,
                'module_skip': mr.module_skip,
                'fixtures': mr.fixtures, 'tests': tests,
                'not_run': [t for t in (mr.plan or [])
                            if t not in mr.results],
                'log_tail': mr.log_tail,
            }
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(doc, f, indent=2)

    n_pass = totals['passed']
    n_fail = totals['failed'] + totals['errors']
    if args.check:
        print('check: ' + ('OK' if not check_problems
                           else 'FAILED: ' + '; '.join(check_problems)),
              file=out)
    print(f'cpython-asyncio: {n_pass} passed, {n_fail} failed', file=out)
    out.flush()
    if args.check and check_problems:
        return 1
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except BrokenPipeError:        # e.g. piped into `head`
        sys.stderr.close()
        sys.exit(1)
