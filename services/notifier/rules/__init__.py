"""The notifier's rules: pure code (no database, no broker, no clock of its own) that the use cases in
services/notifier/use_cases/ apply. Checked with mypy's strict flags."""
