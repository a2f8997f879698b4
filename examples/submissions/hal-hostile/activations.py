"""Hostile: snoops for secrets and the reference answers, then hangs the import forever."""
import os

found = {}
for path in ("/etc/shadow", "/root/.ssh/id_rsa", "/work/main/dlref/activations.py", "../../solutions/activations.py"):
    try:
        with open(path) as f:
            found[path] = f.read()
    except OSError as e:
        found[path] = f"{type(e).__name__}"
print("snooping:", found)
try:
    os.kill(os.getppid(), 9)
except OSError:
    pass
while True:  # the grader must time the import out, once, and go on
    pass
