"""The host side of student-code execution: a sandboxed worker process spoken to in plain data.

Modules: limits (the vocabulary), bwrap (the command line and its probes), stage (a worker
process's parts), messages (replies checked and explained), client (`Worker`), cnn (the CNN's
worker). What runs inside the sandbox is in autograder/inside/ and imports nothing of these.

The grader (pytest, dlref, the scores) never imports student code. A `Worker`
starts ``worker.py`` in a separate process that imports the student's files
and answers calls; only the plain data of ``protocol.py`` crosses (no pickle).

Threat model. The student's code is hostile. With ``sandbox="bwrap"`` the
worker runs in bubblewrap:

* new pid, ipc, uts, network (no interface but a down loopback) and mount
  namespaces; a read-only view of /usr (+ /lib*, /bin links), a few /etc
  files, the Python installation and the venv at their own paths, the worker's
  two files at /opt/dlgrade and a *copy* of the submission at /submission
  (symlinks are copied as links, so links out of the submission dangle); a
  private, size-capped /tmp; the root is remounted read-only. The project
  (dlref/, solutions/, tests, outputs) is not mounted: only its ``.venv`` is,
  and packages of the project found installed in it are masked.
* an unprivileged uid: as root, bwrap runs without a user namespace (so the
  uid is a real one and RLIMIT_NPROC applies: root is exempt from it) and
  the worker drops to 65534 itself before any student code (setgroups,
  setresgid, setresuid, then checks root cannot be regained); bwrap sets
  no_new_privs and mounts everything nosuid. As a normal user, bwrap makes a
  user namespace with uid 65534 inside and nested user namespaces disabled.
* rlimits in the worker (address space, CPU seconds, processes, file size,
  no core files), a wall-clock timeout per call enforced here, and the
  capture of stdout/stderr by a thread that keeps the first bytes and counts
  the rest. ``--die-with-parent`` and the pid namespace: killing the sandbox
  (SIGKILL to its pid 1, then to bwrap) kills every process in it, daemons
  included, and the worker's death ends the namespace too.

Forked views (launcher.py, as root). A grading session that grades several views starts one
launcher: a bubblewrap as above, plus CAP_SYS_ADMIN and the views' stages read-only at /views,
running only grader code (inside/launcher.py) that imports numpy and the worker once. Each
view's worker is forked from it and, before any student code, gets mount, pid and IPC
namespaces of its own (only its view at /submission, /views hidden, a fresh size-capped /tmp
and /dev/shm, its own /proc), the rlimits, the uid drop and an empty capability set (checked).
Its pid 1 is the grader's and is killed, with every process of the view, before the next
view starts; views of a session never run side by side. What they share is what separate
bubblewraps share (the read-only system, the Python trees) plus the launcher's empty network
namespace. The CNN's workers (drivers, devices, an output folder) start their own bubblewrap.

What it does not guarantee: everything the worker reports is computed where
student code runs, so a student can forge it (the returned value, which
arguments were ``mutated``, the timings, the warnings); the grader must judge
only the returned data. No seccomp filter: the kernel's full syscall surface
is reachable (as root the sandbox has no user namespace, so nested user
namespaces are not disabled). Memory is capped per process (RLIMIT_AS), not
per sandbox: up to `processes` processes can each use it, and tmpfs pages
count against the machine, capped by `tmp_size`. As root, sandboxes that share
a uid share the RLIMIT_NPROC count (give parallel workers distinct uids).
The kernel's PDEATHSIG follows the *thread* that started the worker: a Worker
started in a thread dies when that thread exits.

``sandbox="none"`` runs the same worker as a plain subprocess (``python -I``,
the rlimits, a cleared environment, a temporary cwd): no isolation at all
(the student code runs as the caller, can read and write what the caller can,
kill the grader and leave daemons behind). It exists for students' laptops
without bwrap and for containers where bwrap cannot run (Gradescope's); callers
print a notice or refuse (see `Worker.sandboxed`). Started by root, it drops to
the Worker's uid/gid like the sandboxed worker does, so student code can read
and write only what that uid may (the caller keeps its secrets 0700/0600); when
this Python is unusable by that uid (installed where only root can read, see
`drop_problem`) it runs as root, unless $DLGRADE_REQUIRE_DROP=1 (Gradescope's
run), which makes the worker refuse to start instead.

Extra permissions a caller may give one Worker (the CNN's, see cnn_sandbox.py),
none of them given by default: grader `drivers` shipped beside worker.py; a
caller's `output_dir` bound read-write at /out (on the caller's disk: its
files are capped by `file_size` each, not in number; the caller reads them
back only once the sandbox is dead, and must treat them as hostile: links,
fifos, anything); `devices` bound into /dev (the NVIDIA device files, which
expose the GPU driver's ioctl surface to student code); `env` changes (no
thread caps, KERAS_BACKEND); `hide` masks more paths (data the student must
not read, e.g. the Fashion-MNIST test split under /usr/share).

A `Worker` is not thread-safe; use one per thread.
"""
