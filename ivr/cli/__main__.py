"""`python -m ivr.cli`: how `ivr serve` starts its workers."""

from ivr.cli import main

main()
