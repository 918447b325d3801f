"""The tools, as functions: each module's ``main(argv)``; ``tools/<name>.py`` runs one as a program."""
