"""The review queue: sessions that need a human (flagged, judged with low confidence, disputed),
confirmed or overridden by a manager; the trainee sees the outcome."""
