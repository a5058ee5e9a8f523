"""Team insight: what a dealership's people practised and how they scored, read from one summary
row per ended session (`models.SessionInsight`) written in the scorecard's transaction."""
