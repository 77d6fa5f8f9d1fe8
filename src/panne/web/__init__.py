"""The HTTP face of panne: JSON API, and later the pages. Thin: it calls the stages."""
