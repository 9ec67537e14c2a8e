"""`python -m caredesk.cli`."""

from caredesk.cli.main import main

main()
