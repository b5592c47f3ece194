"""The ksqlDB path: the scripts in ksql/ checked, dry-run and applied to a server.

- grammar.py: the subset of ksqlDB 0.29's grammar the scripts use, parsed into expressions and statements.
- planner.py: `check()`, the planner rules a ksqlDB 0.29 server would refuse a statement for, and each
  query's output schema (the schema contract test maps it to the project's JSON schemas).
- dryrun.py: the checked scripts run in Python over a few records, the way ksqlDB runs them.
- scripts.py: reading the scripts (variables, statements), the REST client, apply / drop / status
  (`manage.py ksql`).

docs/ksqldb.md says what is checked and what only a server can tell.
"""
