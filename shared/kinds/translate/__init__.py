"""The translate kind's contract: language codes and names, and the graph of language pairs.

Which pairs exist is the worker's to discover (it runs Apertium); whether a requested pair is served
by some route through them is checked here, so the API refuses a job without Apertium installed.
"""
