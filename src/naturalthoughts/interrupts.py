"""SIGINT and SIGTERM, delivered through the event loop, with a bounded shutdown and a hard deadline.

One handler serves both signals (installed by the runner, and by the CLI for the whole process):

- **inside the event loop** that answers HTTP requests (:func:`run_async`, which every engine's ``run_sync``
  uses), the handler never raises: it asks the loop to cancel its task (``call_soon_threadsafe``, what
  ``loop.add_signal_handler`` does), so the in-flight requests are cancelled at an ``await``, their connections
  closed and the workers stopped, then the loop returns and the signal is raised as an exception in plain code;
- **anywhere else** (Parquet writing, an in-process model), it raises :class:`KeyboardInterrupt` (SIGINT) or
  :class:`~naturalthoughts.errors.Terminated` (SIGTERM) at once, as Python does for SIGINT;
- either way :func:`requested` becomes true, so dispatch loops in other threads send nothing more.

Cleanup is bounded: cancelled tasks get :data:`LOOP_GRACE_S` to finish, and in the CLI a watchdog started by the
first signal ends the process after :data:`SHUTDOWN_DEADLINE_S` whatever it is doing (exit 130 or 143, after the
"last words" registered with :func:`last_words`, which record the stage's outcome; the kernel releases the run
lock). A second signal ends it at once the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from naturalthoughts.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated

if TYPE_CHECKING:
    import asyncio  # imported where a loop runs: `nt --help` does not need it

T = TypeVar("T")

# Seconds from the first signal until the process exits anyway (the CLI only; a notebook's kernel is never ended).
SHUTDOWN_DEADLINE_S = float(os.environ.get("NT_SHUTDOWN_DEADLINE_S", "8"))
LOOP_GRACE_S = 2.0  # what cancelled requests get to close their connections before the loop is left behind
LAST_WORDS_S = 1.0  # what each last word (a manifest record) gets before the hard exit
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    def __init__(self) -> None:
        self.signum: int | None = None  # the first signal received (None: none yet)
        self.raised = False  # the signal was raised as an exception already
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop the main thread is running, if any
        self.task: asyncio.Task[Any] | None = None
        self.give_up: asyncio.TimerHandle | None = None  # leaves the loop if its cancelled task does not let go
        self.hard_exit = False  # the CLI owns the process: the deadline may end it
        self.watchdog: threading.Thread | None = None
        self.words: list[Callable[[int], None]] = []
        self.depth = 0  # nested interrupt_signals() contexts
        self.lock = threading.Lock()


_state = _State()


def requested() -> bool:
    """Whether SIGINT or SIGTERM arrived: dispatch loops send nothing more."""
    return _state.signum is not None


def exit_code(signum: int | None = None) -> int:
    signum = _state.signum if signum is None else signum
    return EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED


def _exception(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.signum is not None:  # a second signal: stop now
        _hard_exit(_state.signum, "a second signal")
        raise _exception(_state.signum)  # only reached when the hard exit is off (a notebook)
    _state.signum = signum
    _start_watchdog()
    loop, task = _state.loop, _state.task
    if loop is not None and task is not None:
        try:
            loop.call_soon_threadsafe(_cancel, task)
            return  # raised by run_async once the loop has let go of its requests
        except RuntimeError:  # the loop is closing: raise here instead
            pass
    _state.raised = True
    raise _exception(signum)


def _cancel(task: asyncio.Task[Any]) -> None:
    if not task.done():
        task.cancel()
        # Cancelled requests close their connections at once; if something does not let go, leave the loop anyway.
        _state.give_up = task.get_loop().call_later(LOOP_GRACE_S, task.get_loop().stop)


def _pending() -> None:
    """Raise the signal that arrived while the loop ran, if it was not raised yet."""
    if not _state.raised:
        raise_if_requested()


def raise_if_requested() -> None:
    """Raise the signal that arrived, raised already or not. Python swallows an exception raised where it cannot
    propagate (a weakref callback during an import, a ``__del__``: "Exception ignored in ..."), so work that goes on
    after a signal must not be taken as finished: a SIGTERM during an import once let ``nt generate`` send nothing,
    record 16 unsent traces as done and exit 0."""
    if _state.signum is not None:
        _state.raised = True
        raise _exception(_state.signum)


# ---- the event loop ------------------------------------------------------------------------------------------


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` with signals delivered as cancellation of its task (see the module docstring)."""
    import asyncio

    main = threading.current_thread() is threading.main_thread()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    task = loop.create_task(coro)
    try:
        if main:
            _state.loop, _state.task = loop, task
            if _state.signum is not None:  # a signal came before the loop started
                loop.call_soon(_cancel, task)
        try:
            result = loop.run_until_complete(task)
        except (asyncio.CancelledError, RuntimeError):
            if main and _state.signum is not None:
                _pending()
                raise _exception(_state.signum) from None
            raise
        finally:
            if main:
                _state.loop = _state.task = None
                if _state.give_up is not None:
                    _state.give_up.cancel()
                    _state.give_up = None
        if main:
            _pending()
        return result
    finally:
        _close(loop, bounded=_state.signum is not None)


def _close(loop: asyncio.AbstractEventLoop, bounded: bool) -> None:
    """Finish what is left on ``loop`` (as ``asyncio.run`` does), within LOOP_GRACE_S when a signal is pending."""
    import asyncio

    timeout = LOOP_GRACE_S if bounded else None
    try:
        leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in leftover:
            task.cancel()
        if leftover:
            loop.run_until_complete(asyncio.wait(leftover, timeout=timeout))
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), timeout))
        if not bounded:  # its threads (name lookups) are left to the hard deadline when a signal is pending
            loop.run_until_complete(loop.shutdown_default_executor())
    except (TimeoutError, RuntimeError):
        pass
    finally:
        asyncio.set_event_loop(None)
        loop.close()


# ---- installing the handler ----------------------------------------------------------------------------------


@contextlib.contextmanager
def interrupt_signals() -> Iterator[None]:
    """While inside: SIGINT and SIGTERM go through :func:`_handler` (main thread only; elsewhere nothing changes).

    SIGINT is set explicitly because a process started in the background by a non-interactive shell inherits it
    *ignored* (POSIX), and then ``kill -INT`` would be silently swallowed and the work would look successful.
    The outermost context starts with no signal recorded and, outside the CLI, forgets it on the way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    with _state.lock:
        _state.depth += 1
        if _state.depth == 1 and not _state.hard_exit:
            _state.signum, _state.raised = None, False
    for signum in SIGNALS:
        signal.signal(signum, _handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        with _state.lock:
            _state.depth -= 1
            if _state.depth == 0 and not _state.hard_exit:
                _state.signum, _state.raised = None, False  # a notebook goes on after its Ctrl-C


def install_for_process() -> None:
    """The CLI's setup: the handler for the life of the process, and the hard deadline after the first signal."""
    if threading.current_thread() is not threading.main_thread():
        return
    _state.hard_exit = True
    _state.signum, _state.raised = None, False
    for signum in SIGNALS:
        signal.signal(signum, _handler)


def release_process() -> None:
    """Undo :func:`install_for_process` for a process that goes on after the CLI's ``main()`` returned (a test suite,
    a notebook): no hard deadline any more and no signal on record. The caller restores the signal handlers it had."""
    with _state.lock:
        _state.hard_exit = False
        _state.signum, _state.raised = None, False
        _state.watchdog = None  # one already started finds hard_exit off and ends without exiting


@contextlib.contextmanager
def last_words(say: Callable[[int], None]) -> Iterator[None]:
    """While inside, a hard exit first calls ``say(exit_code)`` (e.g. to record the stage as terminated)."""
    with _state.lock:
        _state.words.append(say)
    try:
        yield
    finally:
        with _state.lock:
            if say in _state.words:
                _state.words.remove(say)


# ---- the deadline --------------------------------------------------------------------------------------------


def _start_watchdog() -> None:
    if not _state.hard_exit or _state.watchdog is not None:
        return
    signum = _state.signum

    def watch() -> None:
        time.sleep(SHUTDOWN_DEADLINE_S)
        _hard_exit(signum, f"shutdown took longer than {SHUTDOWN_DEADLINE_S:g} s")

    _state.watchdog = threading.Thread(target=watch, name="nt-shutdown-deadline", daemon=True)
    _state.watchdog.start()


def _hard_exit(signum: int | None, why: str) -> None:
    """Say the last words (each within LAST_WORDS_S), then end the process with the signal's exit code."""
    if not _state.hard_exit:
        return
    code = exit_code(signum)
    with _state.lock:
        words = list(_state.words)
    for say in reversed(words):
        speaker = threading.Thread(target=_quietly, args=(say, code), daemon=True)
        speaker.start()
        speaker.join(LAST_WORDS_S)
    with contextlib.suppress(Exception):
        what = "terminated (SIGTERM)" if code == EXIT_TERMINATED else "interrupted"
        sys.stderr.write(f"{what}: {why}; exiting now. Finished work is saved; run the same command again.\n")
        sys.stderr.flush()
    os._exit(code)


def leave(code: int) -> None:
    """End the CLI process with ``code`` (``sys.exit``), and after SIGINT or SIGTERM without the interpreter's
    teardown: the exit handlers run (Ray's shutdown, logging's flush) under the hard deadline, then the process
    ends at once. Tearing down every object (a loaded torch model, a llama.cpp server) takes seconds and runs
    where no deadline can reach it: 11 s were seen after a SIGTERM during annotate's embeddings on a busy machine."""
    if not (_state.hard_exit and requested()):
        sys.exit(code)
    import atexit

    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _quietly(say: Callable[[int], None], code: int) -> None:
    with contextlib.suppress(Exception):
        say(code)
