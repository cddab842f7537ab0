"""``specblur edit``: a local web page to draw a region on the spectrogram, hear it and keep it.

:mod:`specblur.editor.server` holds the session (the file in memory, the stack of edits) and the
HTTP server (the standard library's, bound to 127.0.0.1); ``static/`` holds the page (plain HTML,
CSS and JavaScript, no build step). Imported only by the ``edit`` command.
"""
