"""`python -m mats.sim`: the simulator without the rest of MATS."""

from .cli import main

main()
