"""Whether this trusted session was forked by the session server (session_server.py); reporting.py says so."""

FORKED = False
