import { AgentId, AssignmentId, SessionId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import type { AssignmentKind, AssignmentStatus } from "@agent-marketplace/domain/tasks/Task"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Store } from "../../src/platform/Store"
import { type AssignmentRow, type SessionRow, TaskRepo, type TaskRow } from "../../src/tasks/TaskRepo"
import { blockedWhileHeld, postgresWithClient } from "../support/PgLocks"
import { postgresSkipped, storeCases } from "../support/Stores"

const alice = AgentId.make("alice")
const bob = AgentId.make("bob")
const carol = AgentId.make("carol")

const taskRow = (n: number, overrides: Partial<TaskRow> = {}): TaskRow => ({
  task_id: TaskId.make(`task-${n}`),
  publisher: alice,
  status: "active",
  active_participants: [],
  participant_history: [],
  created_at: 1_000 + n,
  updated_at: 2_000 + n,
  ...overrides
})

const sessionRow = (n: number, task: number, overrides: Partial<SessionRow> = {}): SessionRow => ({
  session_id: SessionId.make(`session-${n}`),
  task_id: TaskId.make(`task-${task}`),
  status: "running",
  created_at: 3_000 + n,
  updated_at: 4_000 + n,
  ...overrides
})

const assignmentRow = (n: number, overrides: Partial<AssignmentRow> = {}): AssignmentRow => ({
  assignment_id: AssignmentId.make(`assignment-${n}`),
  task_id: TaskId.make("task-1"),
  session_id: SessionId.make("session-1"),
  agent_id: bob,
  kind: "execute",
  target_assignment_id: null,
  deadline_at: null,
  status: "assigned",
  created_at: 5_000 + n,
  updated_at: 6_000 + n,
  ...overrides
})

/** Puts assignments with ids from the store's sequence (creation order = id order, as in the services). */
const createAssignments = (count: number, overrides: (i: number) => Partial<AssignmentRow>) =>
  Effect.gen(function* () {
    const repo = yield* TaskRepo
    const rows: Array<AssignmentRow> = []
    for (let i = 0; i < count; i++) {
      const id = yield* repo.nextAssignmentId
      const row = { ...assignmentRow(1, overrides(i)), assignment_id: id }
      yield* repo.putAssignment(row)
      rows.push(row)
    }
    return rows
  })

const all = { after: Option.none<never>(), limit: 1000 }

/** Every page of a keyset-paginated list, `limit` rows at a time, concatenated. */
const allPages = <Id extends string, A>(
  list: (cursor: { after: Option.Option<NoInfer<Id>>; limit: number }) => Effect.Effect<ReadonlyArray<A>>,
  idOf: (a: A) => Id,
  limit: number
) =>
  Effect.gen(function* () {
    const out: Array<A> = []
    const sizes: Array<number> = []
    let after = Option.none<Id>()
    for (;;) {
      const page = yield* list({ after, limit })
      sizes.push(page.length)
      out.push(...page)
      if (page.length < limit) return { rows: out, sizes }
      after = Option.some(idOf(page[page.length - 1]!))
    }
  })

const taskIds = (rows: ReadonlyArray<TaskRow>) => rows.map((t) => t.task_id as string)
const assignmentIds = (rows: ReadonlyArray<AssignmentRow>) => rows.map((a) => a.assignment_id as string)

describe.each(storeCases)("TaskRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, TaskRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect("ids are task-N, session-N, assignment-N from separate increasing sequences", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        expect(yield* repo.nextTaskId).toBe("task-1")
        expect(yield* repo.nextTaskId).toBe("task-2")
        expect(yield* repo.nextSessionId).toBe("session-1")
        expect(yield* repo.nextAssignmentId).toBe("assignment-1")
        expect(yield* repo.nextAssignmentId).toBe("assignment-2")
        expect(yield* repo.nextSessionId).toBe("session-2")
        expect(yield* repo.nextTaskId).toBe("task-3")
      })
    )
  )

  it.effect("a task round-trips with its participant arrays in order; put overwrites; unknown is none", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        const store = yield* Store
        expect(Option.isNone(yield* repo.getTask(TaskId.make("task-1")))).toBe(true)
        const row = taskRow(1, { active_participants: [carol, bob], participant_history: [carol, bob] })
        yield* repo.putTask(row)
        expect(yield* repo.getTask(row.task_id)).toEqual(Option.some(row))
        const updated = taskRow(1, {
          status: "completed",
          active_participants: [],
          participant_history: [carol, bob, alice],
          created_at: 1,
          updated_at: Number.MAX_SAFE_INTEGER
        })
        yield* repo.putTask(updated)
        expect(yield* repo.getTask(row.task_id)).toEqual(Option.some(updated))
        expect(yield* store.transaction(repo.lockTask(row.task_id))).toEqual(Option.some(updated))
        expect(Option.isNone(yield* store.transaction(repo.lockTask(TaskId.make("task-2"))))).toBe(true)
      })
    )
  )

  it.effect("listTasks orders by id number and pages by keyset for each role", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        // Put out of order: lists are ordered by the id's number, not by insertion or by string.
        const rows = [
          taskRow(11, { publisher: bob, participant_history: [alice], active_participants: [alice] }),
          taskRow(2),
          taskRow(10, { publisher: bob, participant_history: [carol, alice] }),
          taskRow(1, { participant_history: [alice], active_participants: [alice] }),
          taskRow(3, { publisher: bob, participant_history: [carol] }),
          taskRow(12, { publisher: carol, active_participants: [alice] }),
          taskRow(4)
        ]
        for (const row of rows) yield* repo.putTask(row)
        const list = (role: "publisher" | "participant" | "any", limit: number) =>
          allPages(
            (cursor) => repo.listTasks(alice, role, cursor),
            (t: TaskRow) => t.task_id,
            limit
          )

        expect(taskIds((yield* list("publisher", 1000)).rows)).toEqual(["task-1", "task-2", "task-4"])
        // participant = present in participant_history (an active-only entry does not count)
        expect(taskIds((yield* list("participant", 1000)).rows)).toEqual(["task-1", "task-10", "task-11"])
        expect(taskIds((yield* list("any", 1000)).rows)).toEqual([
          "task-1",
          "task-2",
          "task-4",
          "task-10",
          "task-11"
        ])
        const paged = yield* list("any", 2)
        expect(taskIds(paged.rows)).toEqual(["task-1", "task-2", "task-4", "task-10", "task-11"])
        expect(paged.sizes).toEqual([2, 2, 1])
        const participantPages = yield* list("participant", 1)
        expect(taskIds(participantPages.rows)).toEqual(["task-1", "task-10", "task-11"])
        expect(participantPages.sizes).toEqual([1, 1, 1, 0])
        // a cursor past the last row, a cursor between rows, and a full row
        expect(
          yield* repo.listTasks(alice, "any", { after: Option.some(TaskId.make("task-11")), limit: 10 })
        ).toEqual([])
        expect(
          taskIds(
            yield* repo.listTasks(alice, "any", { after: Option.some(TaskId.make("task-5")), limit: 10 })
          )
        ).toEqual(["task-10", "task-11"])
        const [first] = yield* repo.listTasks(alice, "participant", { after: Option.none(), limit: 1 })
        expect(first).toEqual(rows[3])
        expect(yield* repo.listTasks(AgentId.make("nobody"), "any", all)).toEqual([])
      })
    )
  )

  it.effect("listTasks follows participant_history as it changes", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        yield* repo.putTask(taskRow(1, { publisher: bob }))
        expect(yield* repo.listTasks(carol, "participant", all)).toEqual([])
        yield* repo.putTask(taskRow(1, { publisher: bob, participant_history: [carol] }))
        expect(taskIds(yield* repo.listTasks(carol, "participant", all))).toEqual(["task-1"])
        expect(taskIds(yield* repo.listTasks(carol, "any", all))).toEqual(["task-1"])
        expect(yield* repo.listTasks(carol, "publisher", all)).toEqual([])
      })
    )
  )

  it.effect("activeTasksWithParticipant: active tasks where the agent is active, by id number", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        yield* repo.putTask(
          taskRow(10, { active_participants: [bob, carol], participant_history: [bob, carol] })
        )
        yield* repo.putTask(taskRow(2, { active_participants: [carol], participant_history: [carol] }))
        yield* repo.putTask(taskRow(3, { active_participants: [bob], participant_history: [bob] }))
        yield* repo.putTask(
          taskRow(4, { status: "completed", active_participants: [carol], participant_history: [carol] })
        )
        yield* repo.putTask(taskRow(5, { active_participants: [], participant_history: [carol] }))
        expect(taskIds(yield* repo.activeTasksWithParticipant(carol))).toEqual(["task-2", "task-10"])
        expect(taskIds(yield* repo.activeTasksWithParticipant(bob))).toEqual(["task-3", "task-10"])
        // leaving the active set (or the task ending) removes it
        yield* repo.putTask(taskRow(10, { active_participants: [bob], participant_history: [bob, carol] }))
        yield* repo.putTask(
          taskRow(3, { status: "cancelled", active_participants: [bob], participant_history: [bob] })
        )
        expect(taskIds(yield* repo.activeTasksWithParticipant(carol))).toEqual(["task-2"])
        expect(taskIds(yield* repo.activeTasksWithParticipant(bob))).toEqual(["task-10"])
        expect(yield* repo.activeTasksWithParticipant(alice)).toEqual([])
      })
    )
  )

  it.effect("sessions round-trip, update, and list per task by id number", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        expect(Option.isNone(yield* repo.getSession(SessionId.make("session-1")))).toBe(true)
        const s10 = sessionRow(10, 1)
        const s2 = sessionRow(2, 1)
        const other = sessionRow(3, 2)
        for (const s of [s10, s2, other]) yield* repo.putSession(s)
        expect(yield* repo.getSession(s2.session_id)).toEqual(Option.some(s2))
        const closed = { ...s10, status: "closed" as const, updated_at: 9_999 }
        yield* repo.putSession(closed)
        expect(yield* repo.getSession(s10.session_id)).toEqual(Option.some(closed))
        expect(yield* repo.sessionsOfTask(TaskId.make("task-1"))).toEqual([s2, closed])
        expect(yield* repo.sessionsOfTask(TaskId.make("task-2"))).toEqual([other])
        expect(yield* repo.sessionsOfTask(TaskId.make("task-9"))).toEqual([])
      })
    )
  )

  it.effect("an assignment round-trips with nulls and with target and deadline; put overwrites", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        const store = yield* Store
        expect(Option.isNone(yield* repo.getAssignment(AssignmentId.make("assignment-1")))).toBe(true)
        const execute = assignmentRow(1)
        const review = assignmentRow(2, {
          agent_id: carol,
          kind: "review",
          target_assignment_id: execute.assignment_id,
          deadline_at: Number.MAX_SAFE_INTEGER,
          task_id: TaskId.make("task-7"),
          session_id: SessionId.make("session-8")
        })
        yield* repo.putAssignment(execute)
        yield* repo.putAssignment(review)
        expect(yield* repo.getAssignment(execute.assignment_id)).toEqual(Option.some(execute))
        expect(yield* repo.getAssignment(review.assignment_id)).toEqual(Option.some(review))
        const ready = { ...execute, status: "output_ready" as const, deadline_at: 0, updated_at: 7_777 }
        yield* repo.putAssignment(ready)
        expect(yield* repo.getAssignment(execute.assignment_id)).toEqual(Option.some(ready))
        expect(yield* store.transaction(repo.lockAssignment(review.assignment_id))).toEqual(
          Option.some(review)
        )
        expect(
          Option.isNone(yield* store.transaction(repo.lockAssignment(AssignmentId.make("assignment-3"))))
        ).toBe(true)
        // an update does not duplicate the row in the lists
        expect(yield* repo.assignmentsOfTask(TaskId.make("task-1"))).toEqual([ready])
      })
    )
  )

  it.effect("assignmentsOfTask and reviewsTargeting list in creation order", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        const rows = yield* createAssignments(12, (i) =>
          i === 0
            ? {}
            : i % 3 === 0
              ? { task_id: TaskId.make("task-2") }
              : { kind: "review", target_assignment_id: AssignmentId.make("assignment-1") }
        )
        const ofTask1 = rows.filter((r) => r.task_id === "task-1")
        expect(assignmentIds(ofTask1)).toContain("assignment-11")
        expect(yield* repo.assignmentsOfTask(TaskId.make("task-1"))).toEqual(ofTask1)
        expect(assignmentIds(yield* repo.assignmentsOfTask(TaskId.make("task-2")))).toEqual([
          "assignment-4",
          "assignment-7",
          "assignment-10"
        ])
        expect(assignmentIds(yield* repo.reviewsTargeting(AssignmentId.make("assignment-1")))).toEqual([
          "assignment-2",
          "assignment-3",
          "assignment-5",
          "assignment-6",
          "assignment-8",
          "assignment-9",
          "assignment-11",
          "assignment-12"
        ])
        expect(yield* repo.reviewsTargeting(AssignmentId.make("assignment-2"))).toEqual([])
        expect(yield* repo.assignmentsOfTask(TaskId.make("task-3"))).toEqual([])
      })
    )
  )

  it.effect("assignmentsOfAgent pages by keyset, with and without a status filter", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        const statuses: ReadonlyArray<AssignmentStatus> = [
          "assigned",
          "output_ready",
          "approved",
          "cancelled"
        ]
        const rows = yield* createAssignments(12, (i) => ({
          agent_id: i % 5 === 4 ? carol : bob,
          status: statuses[i % 4]!
        }))
        const ofBob = rows.filter((r) => r.agent_id === bob)
        const list = (status: Option.Option<AssignmentStatus>, limit: number) =>
          allPages(
            (cursor) => repo.assignmentsOfAgent(bob, status, cursor),
            (a: AssignmentRow) => a.assignment_id,
            limit
          )
        expect((yield* list(Option.none(), 1000)).rows).toEqual(ofBob)
        const paged = yield* list(Option.none(), 4)
        expect(paged.rows).toEqual(ofBob)
        expect(paged.sizes).toEqual([4, 4, 2])
        for (const status of statuses) {
          const expected = ofBob.filter((r) => r.status === status)
          const pages = yield* list(Option.some(status), 2)
          expect(pages.rows).toEqual(expected)
        }
        expect(assignmentIds((yield* list(Option.some("assigned"), 1000)).rows)).toEqual([
          "assignment-1",
          "assignment-9"
        ])
        expect(
          assignmentIds(
            yield* repo.assignmentsOfAgent(bob, Option.none(), {
              after: Option.some(AssignmentId.make("assignment-9")),
              limit: 2
            })
          )
        ).toEqual(["assignment-11", "assignment-12"])
        expect(yield* repo.assignmentsOfAgent(alice, Option.none(), all)).toEqual([])
      })
    )
  )

  it.effect("overdue: assigned with a deadline at or before now, by id number", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        const now = 1_700_000_000_000
        const puts: ReadonlyArray<AssignmentRow> = [
          assignmentRow(10, { deadline_at: now }),
          assignmentRow(2, { deadline_at: now - 1 }),
          assignmentRow(3, { deadline_at: now + 1 }),
          assignmentRow(4, { deadline_at: null }),
          assignmentRow(5, { deadline_at: now - 5, status: "output_ready" }),
          assignmentRow(6, { deadline_at: now - 5, status: "cancelled" }),
          assignmentRow(7, {
            deadline_at: 0,
            kind: "review",
            target_assignment_id: AssignmentId.make("assignment-10")
          })
        ]
        for (const row of puts) yield* repo.putAssignment(row)
        expect(assignmentIds(yield* repo.overdue(now))).toEqual([
          "assignment-2",
          "assignment-7",
          "assignment-10"
        ])
        expect(assignmentIds(yield* repo.overdue(now - 1))).toEqual(["assignment-2", "assignment-7"])
        expect(assignmentIds(yield* repo.overdue(now + 1))).toEqual([
          "assignment-2",
          "assignment-3",
          "assignment-7",
          "assignment-10"
        ])
        expect(yield* repo.overdue(-1)).toEqual([])
      })
    )
  )

  it.effect("loadOf counts assigned assignments and output_ready execute assignments", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        expect(yield* repo.loadOf(bob)).toBe(0)
        const cases: ReadonlyArray<readonly [AssignmentKind, AssignmentStatus]> = [
          ["execute", "assigned"],
          ["review", "assigned"],
          ["execute", "output_ready"],
          ["review", "output_ready"],
          ["execute", "approved"],
          ["review", "approved"],
          ["execute", "rejected"],
          ["execute", "cancelled"],
          ["review", "cancelled"]
        ]
        const rows = yield* createAssignments(cases.length, (i) => ({
          kind: cases[i]![0],
          status: cases[i]![1]
        }))
        yield* createAssignments(2, () => ({ agent_id: carol }))
        expect(yield* repo.loadOf(bob)).toBe(3)
        expect(yield* repo.loadOf(carol)).toBe(2)
        expect(yield* repo.loadOf(alice)).toBe(0)
        yield* repo.putAssignment({ ...rows[0]!, status: "approved" })
        expect(yield* repo.loadOf(bob)).toBe(2)
      })
    )
  )

  it.effect("a failed transaction leaves nothing; a failed savepoint keeps the outer writes", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TaskRepo
        const store = yield* Store
        const error = yield* store
          .transaction(
            Effect.gen(function* () {
              yield* repo.putTask(taskRow(1, { active_participants: [bob], participant_history: [bob] }))
              yield* repo.putSession(sessionRow(1, 1))
              yield* repo.putAssignment(assignmentRow(1))
              return yield* Effect.fail("boom" as const)
            })
          )
          .pipe(Effect.flip)
        expect(error).toBe("boom")
        expect(Option.isNone(yield* repo.getTask(TaskId.make("task-1")))).toBe(true)
        expect(Option.isNone(yield* repo.getSession(SessionId.make("session-1")))).toBe(true)
        expect(Option.isNone(yield* repo.getAssignment(AssignmentId.make("assignment-1")))).toBe(true)
        expect(yield* repo.listTasks(bob, "participant", all)).toEqual([])
        expect(yield* repo.activeTasksWithParticipant(bob)).toEqual([])
        expect(yield* repo.loadOf(bob)).toBe(0)

        yield* store.transaction(
          Effect.gen(function* () {
            yield* repo.putTask(taskRow(2))
            yield* repo.putAssignment(assignmentRow(2))
            const inner = yield* store
              .transaction(
                Effect.gen(function* () {
                  yield* repo.putTask(taskRow(2, { status: "cancelled", participant_history: [bob] }))
                  yield* repo.putAssignment(assignmentRow(2, { status: "cancelled" }))
                  yield* repo.putAssignment(assignmentRow(3))
                  return yield* Effect.fail("inner" as const)
                })
              )
              .pipe(Effect.flip)
            expect(inner).toBe("inner")
          })
        )
        expect(yield* repo.getTask(TaskId.make("task-2"))).toEqual(Option.some(taskRow(2)))
        expect(yield* repo.getAssignment(AssignmentId.make("assignment-2"))).toEqual(
          Option.some(assignmentRow(2))
        )
        expect(Option.isNone(yield* repo.getAssignment(AssignmentId.make("assignment-3")))).toBe(true)
        expect(yield* repo.listTasks(bob, "participant", all)).toEqual([])
        expect(yield* repo.loadOf(bob)).toBe(1)
      })
    )
  )
})

describe.skipIf(postgresSkipped)("TaskRepo row locks (postgres)", () => {
  it.effect("lockTask and lockAssignment lock their row; plain reads do not wait", () =>
    Effect.gen(function* () {
      const repo = yield* TaskRepo
      yield* repo.putTask(taskRow(1))
      yield* repo.putTask(taskRow(2))
      yield* repo.putAssignment(assignmentRow(1))
      yield* repo.putAssignment(assignmentRow(2))
      const t1 = TaskId.make("task-1")
      const a1 = AssignmentId.make("assignment-1")
      expect(yield* blockedWhileHeld(repo.lockTask(t1), repo.lockTask(t1))).toBe(true)
      expect(
        yield* blockedWhileHeld(repo.lockTask(t1), repo.putTask(taskRow(1, { status: "completed" })))
      ).toBe(true)
      expect(yield* blockedWhileHeld(repo.lockTask(t1), repo.lockTask(TaskId.make("task-2")))).toBe(false)
      expect(yield* blockedWhileHeld(repo.lockTask(t1), repo.getTask(t1))).toBe(false)
      expect(yield* blockedWhileHeld(repo.lockAssignment(a1), repo.lockAssignment(a1))).toBe(true)
      expect(
        yield* blockedWhileHeld(
          repo.lockAssignment(a1),
          repo.putAssignment(assignmentRow(1, { status: "cancelled" }))
        )
      ).toBe(true)
      expect(
        yield* blockedWhileHeld(
          repo.lockAssignment(a1),
          repo.lockAssignment(AssignmentId.make("assignment-2"))
        )
      ).toBe(false)
      expect(yield* blockedWhileHeld(repo.lockAssignment(a1), repo.getAssignment(a1))).toBe(false)
      expect(yield* repo.getTask(t1)).toEqual(Option.some(taskRow(1)))
      expect(yield* repo.getAssignment(a1)).toEqual(Option.some(assignmentRow(1)))
    }).pipe(Effect.provide(postgresWithClient()))
  )
})
