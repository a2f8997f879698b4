"""Work done aside in a forked child while this process goes on: the class plots, drawn while feedback is written.

At the end of `dlgrade grade` one core would sit idle while the other wrote the gradebook, every
student's feedback and the summary's plots one after another (seconds for a class). The plots
depend only on the results files, so a child draws them meanwhile. Nothing depends on the
child: if it cannot be forked safely (another thread is running, e.g. a Dask client's) or it
fails, the work is done here, in this process, as before, and gives the same bytes.
"""
from __future__ import annotations

import json
import os
import threading


class Aside:
    """`fn(*args)` (JSON-able result) computed in a forked child; `result()` gives it, computed here if the child could not."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args
        self.pid = self.fd = None
        if hasattr(os, "fork") and threading.active_count() == 1:  # forking beside other threads risks their locks
            self._fork()

    def _fork(self) -> None:
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return
        if pid == 0:  # the child: compute, write, and leave without running this process' exit handlers
            status = 1
            try:
                os.close(r)
                data = json.dumps(self.fn(*self.args)).encode()
                view = memoryview(data)
                while view:
                    view = view[os.write(w, view):]
                status = 0
            finally:
                os._exit(status)
        os.close(w)
        self.pid, self.fd = pid, r

    def result(self):
        if self.pid is not None:
            chunks = []
            with os.fdopen(self.fd, "rb") as f:
                while chunk := f.read(1 << 20):
                    chunks.append(chunk)
            _, status = os.waitpid(self.pid, 0)
            self.pid = None
            if os.waitstatus_to_exitcode(status) == 0:
                try:
                    return json.loads(b"".join(chunks))
                except ValueError:
                    pass
        return self.fn(*self.args)
