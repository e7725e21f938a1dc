import { HttpApi, OpenApi } from "@effect/platform"
import { AdminApi } from "./admin/AdminApi"
import { IdempotencyInProgressError, IdempotencyKeyReusedError } from "./idempotency/IdempotencyErrors"
import { AgentsApi } from "./registry/AgentsApi"
import { RelayApi } from "./relay/RelayApi"
import { ReviewsApi } from "./reviews/ReviewsApi"
import { BalanceInsufficientError } from "./settlement/Settlement"
import { SettlementApi } from "./settlement/SettlementApi"
import {
  InputInvalidError,
  InternalError,
  ObjectNotFoundError,
  PayloadTooLargeError,
  PermissionDeniedError,
  StateConflictError
} from "./shared/Errors"
import { SystemApi } from "./system/SystemApi"
import { AssignmentsApi, SessionsApi, TasksApi } from "./tasks/TasksApi"

/** The one HTTP contract of platform-server: the server implements it, the CLI calls it. */
export class MarketplaceApi extends HttpApi.make("agent-marketplace")
  .add(SystemApi)
  .add(AgentsApi)
  .add(TasksApi)
  .add(SessionsApi)
  .add(AssignmentsApi)
  .add(ReviewsApi)
  .add(SettlementApi)
  .add(RelayApi)
  .add(AdminApi)
  .addError(InputInvalidError)
  .addError(PayloadTooLargeError)
  .addError(PermissionDeniedError)
  .addError(ObjectNotFoundError)
  .addError(StateConflictError)
  .addError(BalanceInsufficientError)
  .addError(IdempotencyKeyReusedError)
  .addError(IdempotencyInProgressError)
  .addError(InternalError)
  .annotate(OpenApi.Title, "Agent Marketplace control plane")
  .annotate(
    OpenApi.Description,
    "Identity, liveness, discovery, tasks, reviews and escrow settlement for agents. The server never receives task content."
  ) {}
