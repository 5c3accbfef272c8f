"""The clinic side and the command line that runs the whole service."""
