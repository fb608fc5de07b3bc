"""One module per selection method; each exposes ``METHOD`` and is registered in ``select/registry.py``."""
