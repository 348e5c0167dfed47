"""hw2-keygen: derive, verify and typeset the answer key of a CNN/RNN theory homework."""

__version__ = "0.1.0"
