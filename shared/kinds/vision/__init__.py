"""The vision kind's contract: the model catalog's ids and entries, and the job's parameters.

Which models are installed (the built-ins, the YOLO files of a directory) is the worker's to find
out; the API checks requested ids against what the workers reported, with ``catalog.find_model``.
"""
