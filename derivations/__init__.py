"""hw2-keygen: derive, verify and typeset the answer key of a CNN/RNN theory homework."""

import os

# One BLAS thread, set before NumPy is first imported: a product computed on several threads can round
# differently from one computed on one, so the numbers (the 1.3 experiment's runs above all) would
# depend on the machine's core count; and idle BLAS threads would spin on cores the LaTeX jobs use.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

__version__ = "0.1.0"
