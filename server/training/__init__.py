"""Training: what to practise (scenarios), how it is judged (rubrics, scorecard v2), and the builder."""
