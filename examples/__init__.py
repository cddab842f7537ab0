"""The bundled example sound (installed as the package ``specblur._examples``); see README.md."""
