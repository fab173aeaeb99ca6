"""Argument types shared by the management commands."""

import argparse


def _number(convert, minimum, *, inclusive):
    """An argparse ``type`` accepting numbers above (or from) ``minimum``."""
    bound = f">= {minimum}" if inclusive else f"> {minimum}"

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (value >= minimum if inclusive else value > minimum):
            raise argparse.ArgumentTypeError(f"{text!r} is not {bound}")
        return value

    parse.__name__ = f"{convert.__name__} {bound}"
    return parse


positive_int = _number(int, 1, inclusive=True)
positive_float = _number(float, 0, inclusive=False)
non_negative_float = _number(float, 0, inclusive=True)
