"""The ground every package stands on: errors, settings, the record schema, text normalisation.

It imports nothing of the project (tests/test_dependencies.py holds it to that).
"""
