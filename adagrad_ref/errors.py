"""The one exception type this package raises for bad input.

Every message is one line and names the offending argument or leaf path
(``grads['layer1']['w']``), so that the command line can print it as it is.
"""


class AdagradError(ValueError):
    """Bad input to adagrad_ref: the message names what was wrong and what was expected."""
