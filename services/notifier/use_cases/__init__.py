"""The notifier's use cases: one module per action, each taking a typed command and returning a typed result,
every change made inside a unit of work (shared/platform/unit_of_work.py) that commits the change and its events
together, then wakes the outbox relay. Routes (handlers.py) and the consumer (consumers.py) only translate.

    projection.py  an event changes the projection of periods (assignment, acknowledgement, report, …)
    scan.py        the due periods' ladder steps become notices, digests and events
    silences.py    operators create and end silences
    preview.py     who would be notified at a given moment (no writes)
    ladder.py      operators give open periods the deployment's current ladder
    bundle.py      all of them with their dependencies, for the entry points
"""
