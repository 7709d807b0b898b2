"""The convert kind's contract: the targets, their options, and the check of a request.

The check takes the input as a probed ``MediaInfo``: the API and the worker each probe the file
(``shared.media_probe``) and then validate against it; running ffmpeg is the worker's alone.
"""
