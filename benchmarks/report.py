"""docs/performance.md: the latest run's table, the machine it ran on, and what the figures mean past one
machine. Written by benchmarks/run.py; edit the text here, not in the generated file."""

from __future__ import annotations

HEADER = """# Performance

Written by `make bench` (`benchmarks/run.py`); `make bench ARGS=--quick` runs smaller sizes in about three
minutes. Do not edit by hand: the prose lives in `benchmarks/report.py`.

**The figures are noisy.** The machine has {cpus} cores shared with other engineers' test runs, and the
broker, the database, the services and the load generator all run on it. That is why every throughput figure
is a ratio to a *raw ceiling* measured in the same run on the same broker and database: aio-pika publishing
with confirms (1,000 in flight), consuming with prefetch 2,000, and one bulk write per batch of up to 1,000
messages into the same kind of collections, acked (multiple) after the write — the stack with no framework
and no per-message work. Run it twice and expect the absolute figures to move by a quarter and the ratios
by a tenth. No test asserts on any of these numbers.

## Latest run

{when} — {kind} run, {seconds:.0f} s. Machine: {cpus} CPUs, {memory} RAM, Linux {kernel}, load average
at the end {load}; Python {python}; RabbitMQ {rabbitmq} (quorum queues); SecantusDB {secantusdb} (the
MongoDB-wire stand-in, `retryWrites=false`, writes `w: majority, j: true` as the services make them).

{table}

{notes}
How each row is measured:

1. Assignment events are written straight into intake's outbox (status held back), then released at once;
   the clock runs until tracking's `events` collection holds every `assignment.created`. Intake and
   tracking run as separate processes (`python -m services.<name>`) on a RabbitMQ vhost of their own.
2. A generated directory of party cells and one group naming them by kind; all three services read it
   (`DIRECTORY_PATH`). From `POST /plans` until tracking has every assignment and the notifier every period
   (the acknowledgement window and the report period of each). The ceiling replays the very messages
   intake published (read back from its outbox) into two raw queues, one written like tracking, one like
   the notifier.
3. Assignments are inserted into tracking's database directly; eight agency broker users (`rabbitmqctl
   add_user`, permitted to write only to `dondoc.events`) publish `command.acknowledge.party_cell.<code>`
   with their AMQP `user_id`. The ceiling reads the assignments, moves their state, and writes the audit
   and outbox rows in bulk. Latency: every 100th message's publish time, and the time its audit row is first
   seen by a 50 ms poll (the same for ceiling and system).
4. `benchmarks/notifier_scan.py` (its own SecantusDB): a due scan (query + claim) of 100 due periods among
   many open ones. And, in the running stack of row 2, a plan whose deadline is six seconds away: the time
   from the deadline to the last of its overdue notices being queued, at the default scan interval.
5. `VmHWM` from `/proc/<pid>/status` of each service process: the peak since it started.
6. `benchmarks/parse_plan.py`.
"""

CHANGES = """
## What the profiles found, and what changed (2026-11-23)

py-spy (a dev dependency) on the services and on the stand-in showed that the services were mostly idle and
the database process was saturated: the stand-in is a Python server under one lock, where an update costs
0.5–1.5 ms a document, a sorted `find` over a large backlog about 0.4 s whatever its limit, an `$in` list is
compared with every candidate (cost grows with its square), and only `insert_many` is cheap (~0.05 ms).

| row | before | after (same sizes, same day; noisy) |
|---|---|---|
| 1, 10,000 assignments | 119/s vs ceiling 872/s: **0.14** | 243/s vs 1,102/s: **0.22** |
| 3, 2,000–3,000 acks | 90/s vs 689/s: **0.13**; p50/p99 11.6 / 21.8 s | 120–139/s vs 488–866/s: **0.14–0.28** |

- Outbox relay (`shared/outbox.py`): the claim's `update_many` carried a top-level `$or`, which made the
  stand-in scan the whole outbox (published rows included) and test every row against a 500-id `$in`. The
  claim now re-checks rows with `_id` + equality filters in chunks of 100, reads the rows once (no second
  read when every row was claimed), marks them published in chunks, claims 1,000 a pass, and refreshes the
  backlog gauge once a second instead of counting every pending row on every pass. Same lease semantics.
- Batching (`shared/batching.py`): at most two bulk writes in flight; what arrives meanwhile is the next batch
  (group commit). Before, a steady stream made many small concurrent writes (10–50 documents each).
  A batch handler can hand one message back to the one-by-one path (`ProcessAlone`) without failing the rest.
- Tracking prefetch 1,000 (was 64) and batches up to 1,000 (`services/tracking/main.py`; the channel's
  prefetch is now a `ServiceRuntime` argument, still 64 for the other services).
- Acknowledgements in bulk (`AcknowledgementsInBulk`): one transaction per command became three bulk writes
  per batch — guarded state change marked with the event id, outbox rows, audit rows — with the same domain
  decision; anything unusual goes the one-by-one path as before. Tracking's own published facts coming back
  to its queue (and escalations) are appended in one bulk insert (`AuditOnlyInBulk`).

### Writes per assignment, counted (2026-11-23, later)

Database round trips and documents written along the pipeline, per batch of 1,000 `assignment.created`
and what an update costs the stand-in against an insert (measured alone, with the
services' indexes: insert 0.1–0.3 ms a document, update or upsert 0.4–0.7 ms):

| step | before | after |
|---|---|---|
| relay: read | 1 sorted `find` | 1 sorted `find` |
| relay: claim | 10 `update_many`, 1,000 updated | 1 `update_one` (the leader lease) |
| relay: mark | 10 `update_many`, 1,000 updated | 20 `update_many`, 1,000 updated (overlapped) |
| tracking | bulk upsert (1,000) + `insert_many` (1,000) | `insert_many` (1,000) + `insert_many` (1,000) |
| notifier | 1 transaction an event: 3 writes, 3 round trips | 1 transaction a batch (≤ 500): 2 bulk writes |

So an assignment cost the database two updates in intake, an upsert and an insert in tracking, and (row 2)
a three-write transaction in the notifier; it now costs one update in intake, two inserts in tracking and
its share of one notifier transaction per batch. What changed:

- Outbox relay (`shared/outbox.py`): one relay at a time holds a leader lease (one `outbox_relay` document,
  renewed every pass; a replica that is not the leader only tries to take it; a clean stop gives it up, a
  crashed leader's runs out after `OUTBOX_LEASE_SECONDS`). The leader publishes 500 at a time in flight and
  marks a confirmed batch published while it publishes the next one (those rows are left out of its next
  read until their mark is written; a mark that fails means those rows are published again, which consumers
  recognise by `event_id`). Guarantees as before: a row is marked only after its confirm, so nothing is lost;
  a leader that dies between confirm and mark, or whose lease ran out while it was paused, republishes.
- Tracking (`AssignmentsInBulk`): the effect is an `insert_many` of the new records instead of upserts with
  `$setOnInsert` — the same effect (a record already there is left as it is) at a third of the cost.
- Notifier (`services/notifier/bulk.py`, `ProjectionInBulk`): creations, acknowledgements and reports go
  through the projector's own per-event logic, whose writes are gathered and written in one transaction per
  batch (prefetch 500). A batch holding an event processed before is rolled back whole and goes one by one.
- Tried and left out: transactions around the relay's marks and tracking's upserts make the stand-in commit
  once per batch (a third cheaper), but under concurrent writes its `commitTransaction` sometimes fails with an
  internal WiredTiger conflict, and reads on the same connections after a transaction saw rows as they were
  before it (1,000 rows relayed twice in one run). The notifier's batch keeps its transaction: a failure
  there sends the batch one by one, and nothing reads its rows back to decide what to publish.

Still missed, and why: the work the system must do beyond the ceiling is still there — the relay's mark
(one update a row, the one write the outbox cannot do without: it is what says a row was published), the
services' indexes (the ceiling writes into collections with none; they make tracking's two inserts cost
about what the ceiling's upsert and insert cost), and for acknowledgements the guarded state change (an
update a command, as in the ceiling, plus the relay's mark and the notifier's projection of the fact it
publishes). All of it runs on the same one-core database process as the ceiling's writes. The ceiling for
row 1 on this stand-in, counting only writes, is near 0.6 of the raw figure; against a real `mongod`, where
an update by `_id` costs about an insert, the same design should be near the raw figure. Next steps, not
done: re-measure against a real replica set; for row 3, gather the acknowledgement's guarded update, outbox
and audit rows in one transaction once the stand-in's transactions are sound under concurrency.
"""

PAST_ONE_MACHINE = """
## Past one machine

What the design already allows, and what the figures above say about a national campaign.

- **RabbitMQ**: a three-node cluster. Every queue is already a quorum queue (`x-queue-type: quorum`,
  `x-delivery-limit`), so each is replicated to a majority and survives the loss of one node; publishers
  already wait for confirms, and a confirm from a quorum queue means a majority has the message. Leaders of
  the service queues should be spread over the nodes (`queue-leader-locator: balanced`). One queue is
  one Raft group with one leader, so a single `tracking` queue caps near what one node can push through
  one queue (the raw ceiling above is that figure on this machine); past it, split by routing key
  (e.g. a consistent-hash exchange over four `tracking.N` queues) — the consumers are idempotent and do not
  need global order, only the per-assignment retry they already have.
- **Agency queues**: declared only for agencies provisioned for AMQP (`dondoc agencies provision`), one
  quorum queue each. Until 2026-11-23 intake declared one per agency of the directory at start-up: minutes
  for 10,000, and queues filling for agencies nobody could read them for. Nationally, tens of thousands of
  provisioned agencies are still tens of thousands of Raft groups: past that, one stream per province that
  agencies read with a filter.
- **MongoDB**: a replica set (three members; the services already write `w: majority, j: true` and read
  their own writes from the primary). Transactions need it; the bulk paths do not use transactions and
  stay correct through ordering (effect first, then the audit row that marks the event processed).
- **Services as stateless replicas**: all state is in MongoDB and RabbitMQ. Consumers compete on the
  same queue (each message to one replica; idempotency by `event_id` makes a redelivery harmless). One
  replica's outbox relay publishes at a time, under a leader lease it renews every pass; when that replica
  dies its lease runs out and another takes over. The notifier's scan and mailer claim work with leases
  stored in the rows they claim, so several replicas never send the same batch at once, and a dead
  replica's claim expires and is taken over. Scale tracking and the notifier on queue depth
  (`dondoc_outbox_pending`, the queue's `messages_ready`), intake on HTTP load.
- **Sharding keys** (when one replica set is not enough): tracking's `assignments` and `events` by
  `{{plan_id: 1, _id: 1}}` — a plan's status query and export stay on one shard, and a national plan's
  assignments spread because `_id` follows within it (hashed `_id` would spread writes better but
  scatter every status query); the notifier's `periods` by hashed `_id`, because its hot query is the
  due scan on `(state, next_check_at)`, which every shard answers from its own index for its own share —
  the scan cost per shard follows what is due on that shard (row 4). Outboxes stay unsharded: they are
  drained continuously and small.
- **The national case**: about 3,300 communes × (ten bodies + dozens of party cells) ≈ 150,000–250,000
  assignments from one plan, each with one or more reporting periods. At the fan-out rate of row 2 on this
  2-core machine, {national}. On real MongoDB (a replica set on its own servers, several times the
  stand-in's write rate) and with two or three tracking and notifier replicas, the same plan should be
  recorded in minutes; the limit then is a single queue's throughput, not the services. A report deadline
  that makes every period due on the same day is a scan problem, not a message problem: the notifier's scan
  claims 1,000 periods a pass through the `(state, next_check_at)` index (row 4: its cost follows what is
  due, not what is open), so 250,000 periods due at once are a few hundred passes — and the e-mails, one
  digest per recipient, are bounded by the SMTP relay's rate, which is where a national deployment should
  spend its capacity planning.
"""


def national_estimate(table: str) -> str:
    """A sentence from row 2's figure: how long 200,000 assignments would take at the measured rate."""
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[1] == "2" and cells[3].endswith(" s"):
            seconds = float(cells[3].removesuffix(" s"))
            count = int("".join(ch for ch in cells[2].split("group of", 1)[1].split("party", 1)[0] if ch.isdigit()))
            rate = count / seconds
            return (f"{count:,} assignments in {seconds:.0f} s is about {rate:,.0f} a second, so 200,000 would "
                    f"take about {200_000 / rate / 60:.0f} minutes end to end")
    return "(row 2 was not measured in this run)"


def document(table: str, info: dict[str, str], notes: list[str], *, quick: bool, seconds: float, when: str) -> str:
    notes_text = "".join(f"- {note}\n" for note in notes)
    return (HEADER.format(table=table, notes=notes_text + ("\n" if notes_text else ""), kind="quick" if quick
                          else "full", seconds=seconds, when=when, **info)
            + CHANGES + PAST_ONE_MACHINE.format(national=national_estimate(table)))
