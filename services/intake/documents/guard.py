"""Documents read away from the event loop, each within a time limit and a memory limit.

A reader runs in a worker process: only a process can be stopped at any point (a thread cannot be killed,
and a C library such as lxml does not look at a deadline) and only a process can be given a memory limit
(`RLIMIT_AS`). A worker that overruns its time is killed, and a fresh one is started for the next
document; one that runs out of memory, or went past half its room, answers and exits. Workers come from a
forkserver that has the readers imported, so a new worker is ready in a fraction of a second and never
inherits the service's threads, sockets or event loop.

The guard knows nothing of plans: `run(task, *args)` runs any module-level function of a worker. The
object passed as `shared=` (the agency directory) crosses to a worker once per worker and version, not
with every document. Each worker is owned by one thread of the guard's pool, which waits on the worker's
pipe; the event loop only awaits that thread.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import pickle
import resource
import signal
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import structlog

from services.intake.documents.errors import DocumentError, DocumentTooLarge, DocumentTooSlow
from services.intake.documents.limits import DEFAULT_LIMITS, MB, DocumentLimits
from shared.domain.wording import Wording

log = structlog.get_logger()

T = TypeVar("T")

# Imported once by the forkserver, before it forks any worker (holidays.countries, which the working-day
# calendar imports on first use, alone takes ~0.5 s: without it each new worker's first document would).
PRELOAD = [
    "services.intake.documents",
    "services.intake.documents.docx_reader",
    "docx",
    "docx.table",
    "holidays.countries",
]

_READER_FAILED = Wording(
    vi="Không đọc được tài liệu: trình đọc gặp lỗi với tệp này. Hãy mở bằng Word, lưu lại thành .docx hoặc .txt "
    "rồi gửi lại; nếu vẫn lỗi, hãy báo cho quản trị hệ thống.",
    en="The document could not be read: the reader failed on this file. Open it in Word, save it as .docx or .txt "
    "and send it again; if it still fails, tell the system administrator.",
)


class _Worker:
    """One reader process and the pipe to it."""

    def __init__(self, context: Any, memory_bytes: int) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, memory_bytes), name="document-reader", daemon=True)
        self.process.start()
        child.close()
        self.shared_version: int | None = None

    def call(self, message: tuple[Any, ...], timeout: float) -> tuple[str, Any, bool]:
        """The worker's answer: outcome, value, and whether the worker ends after it."""
        self.connection.send(message)
        if not self.connection.poll(timeout):
            raise TimeoutError
        data = self.connection.recv_bytes()
        # A parsed 30-page plan is ~7,000 objects: unpickled with the collector on, each generation's
        # threshold passed starts a collection over the service's whole heap (median 117 ms against 52 ms
        # here). Collections are held off for the load only, and only if nothing else had turned them off.
        collecting = gc.isenabled()
        gc.disable()
        try:
            answer: tuple[str, Any, bool] = pickle.loads(data)
        finally:
            if collecting:
                gc.enable()
        return answer

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class DocumentGuard:
    """Worker processes that read documents within `limits`; `workers` documents at a time, others queue."""

    def __init__(self, limits: DocumentLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)  # no effect once the forkserver runs: it already has them
        self._threads = ThreadPoolExecutor(limits.workers, thread_name_prefix="document-reader")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._workers: set[_Worker] = set()
        self._shared: tuple[int, Any, bytes | None] = (0, None, None)

    async def run(self, task: Callable[..., T], *args: Any, shared: Any = None) -> T:
        """`task(*args)` in a worker, or `task(shared, *args)` when `shared` is given. Raises the task's
        DocumentError, DocumentTooSlow past the time limit, DocumentTooLarge past the memory limit, and a
        DocumentError for anything else that goes wrong in the worker (logged with its traceback)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._call, task, args, shared)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            workers, self._workers = self._workers, set()
        for worker in workers:
            worker.stop()

    # --- in the guard's threads ---------------------------------------------------------------------------

    def _call(self, task: Callable[..., Any], args: tuple[Any, ...], shared: Any) -> Any:
        worker = self._worker()
        version, blob = self._share(shared)
        message = (task, args, version, blob if version is not None and worker.shared_version != version else None)
        try:
            status, value, ending = worker.call(message, self.limits.timeout_seconds)
        except TimeoutError:
            self._retire(worker, "time limit")
            seconds = f"{self.limits.timeout_seconds:g}"
            raise DocumentTooSlow(
                Wording(
                    vi=f"Không đọc được tài liệu trong thời gian cho phép ({seconds} giây). "
                    "Hãy gửi riêng văn bản kế hoạch (không kèm phụ lục), hoặc lưu lại thành .txt rồi gửi lại.",
                    en=f"The document could not be read within the time allowed ({seconds} seconds). "
                    "Send the plan's text alone (without appendices), or save it as .txt and send it again.",
                )
            ) from None
        except (EOFError, OSError):  # the worker died: killed by the kernel, or a crash in C code
            self._retire(worker, "died")
            raise DocumentError(_READER_FAILED) from None
        worker.shared_version = version if version is not None else worker.shared_version
        if ending or status == "failed":  # a failure may leave a worker in any state: it is not reused
            self._retire(worker, {"memory": "memory limit", "failed": "reader failed"}.get(status, "memory high"))
        return self._outcome(task, status, value)

    def _outcome(self, task: Callable[..., Any], status: str, value: Any) -> Any:
        if status == "ok":
            return value
        if status == "refused":
            raise value
        if status == "memory":
            memory = self.limits.memory_mb
            raise DocumentTooLarge(
                Wording(
                    vi=f"Tài liệu quá lớn: đọc tài liệu cần hơn {memory} MB bộ nhớ cho phép. "
                    "Hãy gửi riêng văn bản kế hoạch, không kèm phụ lục hay hình ảnh lớn.",
                    en=f"The document is too large: reading it takes more than the {memory} MB of memory allowed. "
                    "Send the plan's text alone, without appendices or large images.",
                )
            )
        log.error("document reader failed", task=getattr(task, "__name__", str(task)), traceback=value)
        raise DocumentError(_READER_FAILED)

    def _worker(self) -> _Worker:
        worker: _Worker | None = getattr(self._local, "worker", None)
        if worker is None or not worker.process.is_alive():
            if worker is not None:
                self._retire(worker, "found dead")
            worker = _Worker(self._context, self.limits.memory_mb * MB)
            with self._lock:
                self._workers.add(worker)
            self._local.worker = worker
        return worker

    def _retire(self, worker: _Worker, reason: str) -> None:
        log.warning("document reader replaced", reason=reason, pid=worker.process.pid)
        with self._lock:
            self._workers.discard(worker)
        self._local.worker = None
        worker.stop()

    def _share(self, shared: Any) -> tuple[int | None, bytes | None]:
        """The shared object's version and its pickle, made once per object (the guard keeps the last one,
        so a version number always means the same object)."""
        if shared is None:
            return None, None
        with self._lock:
            version, current, blob = self._shared
            if current is not shared:
                version, blob = version + 1, pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
                self._shared = (version, shared, blob)
            return version, blob


def serve(connection: Connection, memory_bytes: int) -> None:
    """A worker's life: take a task, run it, answer; until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the service; it stops the workers itself
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # Half the room left above what the worker starts with (the forkserver's imports): past it, a worker ends.
    high_water = _peak_bytes() + (memory_bytes - _peak_bytes()) // 2
    shared: tuple[int | None, Any] = (None, None)
    while True:
        try:
            task, args, version, blob = connection.recv()
        except EOFError:
            return
        if blob is not None:
            try:
                shared = (version, pickle.loads(blob))
            except Exception:  # noqa: BLE001 - answered as a failure below (the version was not received)
                shared = (None, None)
        status, value = _answer(task, args, version, shared)
        high = _peak_bytes() >= high_water
        if status in ("refused", "failed") and high:
            # C libraries report an allocation refused by the limit in their own way (lxml: "XMLSyntaxError:
            # unknown error"): a failure of a document that took the worker past its high-water mark is
            # taken as one, rather than blamed on the file.
            status, value = "memory", None
        # Past its high-water mark a worker ends after answering: the next document gets a fresh process
        # with its whole limit, not what a heap grown by this one leaves of it.
        connection.send((status, value, high or status == "memory"))
        if high or status == "memory":
            return


def _answer(
    task: Callable[..., Any], args: tuple[Any, ...], version: int | None, shared: tuple[int | None, Any]
) -> tuple[str, Any]:
    try:
        if version is not None and shared[0] != version:
            raise RuntimeError(f"shared object version {version} was never sent to this worker")
        return "ok", task(shared[1], *args) if version is not None else task(*args)
    except DocumentError as exc:
        return "refused", exc
    except MemoryError:
        return "memory", None
    except Exception:  # noqa: BLE001 - a reader's bug must reach the log, not kill the worker silently
        return "failed", traceback.format_exc(limit=-8)


def _peak_bytes() -> int:
    """The worker's peak address space (what RLIMIT_AS limits), 0 where /proc does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class _Current:
    """The guard intake's routes use: one per process, with the limits `configure` last gave it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guard: DocumentGuard | None = None

    def get(self) -> DocumentGuard:
        with self._lock:
            if self._guard is None:
                self._guard = DocumentGuard()
            return self._guard

    def configure(self, limits: DocumentLimits) -> None:
        with self._lock:
            if self._guard is not None and self._guard.limits == limits:
                return
            old, self._guard = self._guard, DocumentGuard(limits)
        if old is not None:
            old.close()


current = _Current()


def configure(limits: DocumentLimits) -> None:
    """Set the limits of the guard intake's routes use (the composition root calls it with the settings'
    limits); workers started under other limits are stopped."""
    current.configure(limits)
