"""Bundled models (installed as the package ``specblur._models``); see MANIFEST."""
