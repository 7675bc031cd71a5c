"""Helpers shared by the test suites: real processes and servers the tests start."""
