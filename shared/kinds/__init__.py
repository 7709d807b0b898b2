"""The job kinds, named once, and their contracts: what the API and a kind's workers agree on.

Each kind's module (``shared.kinds.asr``, ``.vision``, ``.translate``, ``.convert``) holds its
parameters and their validation, its catalog's shape and its result formats, in plain Python: no
engine, no subprocess, no broker, no web framework, so the API checks a job as its worker will
without shipping the worker. Importing this package imports none of them.
"""

# The order is the one the API lists them in (queues, metrics, the models catalog).
KINDS = ("asr", "vision", "translate", "convert")
