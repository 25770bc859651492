"""Intake's use cases, one per action, each behind a typed command and a typed result or error.

A package rather than one `service.py`: together they passed the ~300 lines a module should hold. `plans`
registers (and amends) plans and reads plan documents; `directory` edits the agency directory; `errors`
holds the typed errors the routes map to status codes; `ports` the protocols storage implements (MongoDB
repositories in production, fakes in unit tests). State changes go through `shared.platform.unit_of_work`.
"""
