"""The adversarial suite (issue 18): hostile servers (server.py), generated hostile PDFs
(bombs.py) and the cases that use them. A new attack is a route or a bomb maker plus a test that
asserts the one-line error or failure row, the time and memory bounds, and that nothing is lost."""
