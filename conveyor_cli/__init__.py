"""`conveyor`: the command-line client of Conveyor's HTTP API (login, submit, follow, fetch)."""
