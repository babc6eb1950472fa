"""Jobs only tests send, to a real worker started with them (``procs.Stack.worker(
include=["tests.worker_jobs"])``, Celery's own ``--include``): tasks of the product's Celery
app, so they run through the same ``CountedTask`` as its jobs. The product never imports
this module, and a worker started the ordinary way does not know these jobs."""

from __future__ import annotations

import os
import signal
from typing import Any

from salesflow.celery import app

OUT_OF_MEMORY = "tests.worker_jobs.out_of_memory"


@app.task(bind=True, name=OUT_OF_MEMORY)
def out_of_memory(self: Any) -> None:
    """Die the way the out-of-memory killer ends a worker, on every delivery: SIGKILL on
    the pool process running the job -- no handler, no ``finally``, no acknowledgement.
    Only in a worker's pool process: run eagerly (in the test's own process) it refuses."""
    if self.request.is_eager or not self.request.delivery_info:
        raise RuntimeError("out_of_memory kills the process running it: only a worker's")
    os.kill(os.getpid(), signal.SIGKILL)
