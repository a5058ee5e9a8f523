"""The guided builder: a scenario and its customer written by answering one question at a time.

`stages.py` (the questions, in order), `collected.py` (what has been gathered, and the draft made
from it); rules: `extract_offline.py`, `vehicles.py`, `facts.py`, `words.py`, `transcript.py`;
`extract_online.py` (the model's structured answer), `readers.py` (which of the two), `flow.py`
(one answer -> the next question), `store.py` (the active state, with a TTL), `models.py` (the
durable row).
"""
