"""Everything that talks to people: the command line, the terminal UI and the served UI."""
