"""Managing practice: teams, programmes, assignments (progress, reminders, overdue) and certification."""
