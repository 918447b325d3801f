"""The one error type of the runtime: bad input, said in one line."""


class RuntimeInputError(Exception):
    """An artefact, image, engine or option the runtime cannot use; the
    message says what is wrong and how to fix it."""
