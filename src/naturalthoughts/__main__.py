"""`python -m naturalthoughts` is `nt`."""

from naturalthoughts.cli import main

main()
