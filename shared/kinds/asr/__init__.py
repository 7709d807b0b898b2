"""The speech-to-text kind's contract: its options (params), its transcript exports and subtitles.

The catalog of installed models is the worker's (it reads the filesystem); the options are checked
against a catalog given to them, whether the worker's own or what the workers reported to the API.
"""
