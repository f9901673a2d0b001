"""Deliberately simple pure-Python reference implementations used by the audit tests.

Each oracle follows the docstring of the workbench function it mirrors, with plain loops over
lists and dicts and ``datetime`` arithmetic, so that it can be read and checked by hand.
"""
