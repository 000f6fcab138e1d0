"""cdr1c entry points: the CLI, one small module per job, the scheduler. No domain logic here."""
