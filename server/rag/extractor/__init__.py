"""Extraction of untrusted files in child processes that can be bounded and killed.

A file's text is read (and chunked) by `child.py` in a process of its own: an address-space
limit (RLIMIT_AS) bounds its memory, a CPU limit (RLIMIT_CPU) per job is the backstop, and
`pool.py` in the server enforces the wall clock per document and per page, kills the child on a
limit or when the job is stopped (document deleted, lease lost, shutdown), and keeps idle
children for the next job. Only JSON and raw bytes cross the pipe: nothing from a child is
unpickled.
"""
