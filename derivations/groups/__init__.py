"""The homework's question groups, one folder each (see :mod:`derivations.registry`)."""
