import os as _os

__version__ = "0.1.0"

# OpenMP threads (torch's intra-op pool) wait at each parallel step by spinning; on a machine shared with other work
# a spinning thread holds a core another thread of the same step (or the embedded llama.cpp's server) needs. Passive
# waiting sleeps instead, as the llama.cpp servers do (no busy-wait). OpenMP reads it once, when torch loads, so it
# is set here, before any stage imports torch; a value the user set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
