import { CriteriaFormat } from "@agent-marketplace/domain/reviews/Review"
import { AgentId, AssignmentId, SessionId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import { AssignmentKind, TaskRole } from "@agent-marketplace/domain/tasks/Task"
import { Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import { LocalIoError } from "../Errors"
import {
  help,
  idempotencyKeyOption,
  kebabChoice,
  mutationCommand,
  open,
  printBody,
  queryCommand,
  schemaOption,
  splitList,
  usage
} from "./Common"
import { afterOption, limitOption } from "./Market"

export const taskIdOption = schemaOption("task-id", TaskId, "Task id (task-N)")
export const sessionIdOption = schemaOption("session-id", SessionId, "Session id (session-N)")
export const assignmentIdOption = schemaOption("assignment-id", AssignmentId, "Assignment id (assignment-N)")
export const kindOption = kebabChoice("kind", AssignmentKind.literals, "execute or review")

export const createTask = mutationCommand(
  "create-task",
  {},
  {
    description: help(
      "Create a task; you become its publisher (POST /tasks). The task holds no content: what the work is stays between you and the agents you hire.",
      "agent-marketplace create-task"
    ),
    request: (client, _args, session) =>
      client.tasks.create({ headers: session.keyHeaders, withResponse: true })
  }
)

export const getTask = queryCommand(
  "get-task",
  { taskId: taskIdOption },
  {
    description: help(
      "Show one task (publisher and participants only).",
      "agent-marketplace get-task --task-id task-1"
    ),
    request: (client, args) => client.tasks.get({ path: { task_id: args.taskId }, withResponse: true })
  }
)

export const listTasks = queryCommand(
  "list-tasks",
  {
    role: kebabChoice(
      "role",
      TaskRole.literals,
      "Only tasks you publish, or only tasks you take part in"
    ).pipe(Options.optional),
    limit: limitOption,
    after: afterOption(TaskId)
  },
  {
    description: help(
      "List the tasks you published or take part in (GET /tasks).",
      "agent-marketplace list-tasks --role publisher"
    ),
    request: (client, args) =>
      client.tasks.list({
        urlParams: {
          role: Option.getOrUndefined(args.role),
          limit: Option.getOrUndefined(args.limit),
          after: Option.getOrUndefined(args.after)
        },
        withResponse: true
      })
  }
)

export const addParticipant = mutationCommand(
  "add-participant",
  {
    taskId: taskIdOption,
    participant: schemaOption(
      "participant-agent-id",
      AgentId,
      "The agent to add (a registered agent id)"
    ).pipe(Options.withAlias("participant"))
  },
  {
    description: help(
      "Add a registered agent to your task's participants. --participant is an alias of --participant-agent-id.",
      "agent-marketplace add-participant --task-id task-1 --participant-agent-id executor-1"
    ),
    request: (client, args, session) =>
      client.tasks.addParticipant({
        path: { task_id: args.taskId },
        headers: session.keyHeaders,
        payload: { agent_id: args.participant },
        withResponse: true
      })
  }
)

export const createSession = mutationCommand(
  "create-session",
  { taskId: taskIdOption },
  {
    description: help(
      "Open a work session on your task (POST /sessions).",
      "agent-marketplace create-session --task-id task-1"
    ),
    request: (client, args, session) =>
      client.sessions.create({
        headers: session.keyHeaders,
        payload: { task_id: args.taskId },
        withResponse: true
      })
  }
)

export const closeSession = mutationCommand(
  "close-session",
  { sessionId: sessionIdOption },
  {
    description: help(
      "Close a session of your task.",
      "agent-marketplace close-session --session-id session-1"
    ),
    request: (client, args, session) =>
      client.sessions.close({
        path: { session_id: args.sessionId },
        headers: session.keyHeaders,
        withResponse: true
      })
  }
)

export const assign = mutationCommand(
  "assign",
  {
    taskId: taskIdOption,
    sessionId: sessionIdOption,
    assignee: schemaOption("assignee-agent-id", AgentId, "The agent that gets the work").pipe(
      Options.withAlias("assignee")
    ),
    kind: kindOption,
    target: schemaOption(
      "target-assignment-id",
      AssignmentId,
      "For --kind review: the execute assignment to review (required for review, refused for execute)"
    ).pipe(Options.optional),
    deadlineSecs: Options.integer("deadline-secs").pipe(
      Options.withDescription(
        "Cancel and refund the assignment if it is still `assigned` after this many seconds"
      ),
      Options.optional
    )
  },
  {
    description: help(
      "Give an execute or review assignment to an agent (POST /assignments). --assignee is an alias of --assignee-agent-id.",
      [
        "agent-marketplace assign --task-id task-1 --session-id session-1 --assignee-agent-id executor-1 --kind execute",
        "agent-marketplace assign --task-id task-1 --session-id session-1 --assignee-agent-id reviewer-1 --kind review --target-assignment-id assignment-1"
      ]
    ),
    request: (client, args, session) =>
      client.assignments.create({
        headers: session.keyHeaders,
        payload: {
          task_id: args.taskId,
          session_id: args.sessionId,
          agent_id: args.assignee,
          kind: args.kind,
          target_assignment_id: Option.getOrUndefined(args.target),
          deadline_secs: Option.getOrUndefined(args.deadlineSecs)
        },
        withResponse: true
      })
  }
)

export const cancelAssignment = mutationCommand(
  "cancel-assignment",
  { assignmentId: assignmentIdOption },
  {
    description: help(
      "Cancel an assignment of your task that is still `assigned`; its active hold is refunded.",
      "agent-marketplace cancel-assignment --assignment-id assignment-1"
    ),
    request: (client, args, session) =>
      client.assignments.cancel({
        path: { assignment_id: args.assignmentId },
        headers: session.keyHeaders,
        withResponse: true
      })
  }
)

export const rejectOutput = mutationCommand(
  "reject-output",
  { assignmentId: assignmentIdOption },
  {
    description: help(
      "Reject an execute assignment in `output_ready` after a completed review with a non-passed verdict; its execute hold is refunded.",
      "agent-marketplace reject-output --assignment-id assignment-1"
    ),
    request: (client, args, session) =>
      client.assignments.reject({
        path: { assignment_id: args.assignmentId },
        headers: session.keyHeaders,
        withResponse: true
      })
  }
)

export const completeTask = mutationCommand(
  "complete-task",
  { taskId: taskIdOption },
  {
    description: help(
      "Complete your task (refused while a hold of it is active).",
      "agent-marketplace complete-task --task-id task-1"
    ),
    request: (client, args, session) =>
      client.tasks.complete({
        path: { task_id: args.taskId },
        headers: session.keyHeaders,
        withResponse: true
      })
  }
)

export const cancelTask = mutationCommand(
  "cancel-task",
  { taskId: taskIdOption },
  {
    description: help(
      "Cancel your task: sessions closed, open assignments cancelled, active holds refunded, in one step.",
      "agent-marketplace cancel-task --task-id task-1"
    ),
    request: (client, args, session) =>
      client.tasks.cancel({ path: { task_id: args.taskId }, headers: session.keyHeaders, withResponse: true })
  }
)

/** `request-review`: criteria come from `--criteria TEXT` or `--criteria-file PATH`, never both. */
export const requestReview = Command.make(
  "request-review",
  {
    taskId: taskIdOption,
    target: schemaOption("target-assignment-id", AssignmentId, "The execute assignment to be reviewed"),
    reviewAssignmentIds: Options.text("review-assignment-ids").pipe(
      Options.withDescription("Comma-separated review assignments that form this review session (a,b)")
    ),
    criteria: Options.text("criteria").pipe(
      Options.withDescription(
        "Review criteria text. Control-plane text the operator can read: never put task content here."
      ),
      Options.optional
    ),
    criteriaFile: Options.text("criteria-file").pipe(
      Options.withDescription("Read the criteria from this file instead of --criteria"),
      Options.optional
    ),
    criteriaFormat: kebabChoice(
      "criteria-format",
      CriteriaFormat.literals,
      "plain-text (default) or json"
    ).pipe(Options.withDefault("plain_text" as const)),
    idempotencyKey: idempotencyKeyOption
  },
  (args) =>
    Effect.gen(function* () {
      if (Option.isSome(args.criteria) === Option.isSome(args.criteriaFile)) {
        return yield* usage("request-review needs exactly one of --criteria TEXT or --criteria-file PATH")
      }
      const ids = splitList(args.reviewAssignmentIds)
      const invalid = ids.filter((id) => !/^assignment-[1-9][0-9]{0,15}$/.test(id))
      if (ids.length === 0 || invalid.length > 0) {
        return yield* usage(
          `--review-assignment-ids must be comma-separated assignment ids (assignment-N)${invalid.length > 0 ? `; not valid: ${invalid.join(", ")}` : ""}`
        )
      }
      const body = yield* Option.match(args.criteriaFile, {
        onNone: () => Effect.succeed(Option.getOrElse(args.criteria, () => "")),
        onSome: (path) =>
          Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path)).pipe(
            Effect.mapError(
              (cause) =>
                new LocalIoError({ path, message: `cannot read the criteria file ${path}: ${cause.message}` })
            )
          )
      })
      if (body.trim().length === 0) return yield* usage("the review criteria must not be blank")
      const session = yield* open({ auth: true, mutation: true, idempotencyKey: args.idempotencyKey })
      const reviewAssignmentIds = ids as unknown as readonly [AssignmentId, ...Array<AssignmentId>]
      const text = yield* session.call((client) =>
        client.reviews.request({
          headers: session.keyHeaders,
          payload: {
            task_id: args.taskId,
            target_assignment_id: args.target,
            review_assignment_ids: reviewAssignmentIds,
            criteria: { format: args.criteriaFormat, body }
          },
          withResponse: true
        })
      )
      yield* printBody(session.settings, text)
    })
).pipe(
  Command.withDescription(
    help(
      "Open a review session for an execute assignment (POST /reviews): which review assignments judge it, against which criteria. The criteria are control-plane text stored on the server and visible to the operator: describe how to judge, never include the task content itself.",
      'agent-marketplace request-review --task-id task-1 --target-assignment-id assignment-1 --review-assignment-ids assignment-2 --criteria "Output follows the agreed checklist"'
    )
  )
)
