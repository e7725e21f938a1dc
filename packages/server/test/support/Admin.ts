import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Option, Redacted } from "effect"
import type { ServerConfigShape } from "../../src/platform/ServerConfig"
import { anonClient, clientFor } from "./Harness"

/** The operator secret of the admin tests. */
export const ADMIN_TOKEN = "admin-secret-for-tests"
export const REGISTRATION_TOKEN = "registration-secret-for-tests"

/** Config overrides: an admin token, plus whatever else the test needs. */
export const withAdmin = (overrides: Partial<ServerConfigShape> = {}): Partial<ServerConfigShape> => ({
  adminToken: Option.some(Redacted.make(ADMIN_TOKEN)),
  ...overrides
})

/** A client that presents `token` as `Admin-Token`. */
export const adminClientFor = (token: string) =>
  HttpApiClient.make(MarketplaceApi, {
    transformClient: HttpClient.mapRequest(HttpClientRequest.setHeader("admin-token", token))
  })

/** The operator's client (the right admin token). */
export const adminClient = adminClientFor(ADMIN_TOKEN)

/** Registers `rawId` with the given Registration-Token and/or invite code; answers the response. */
export const registerWith = (rawId: string, options: { token?: string; invite?: string } = {}) =>
  Effect.flatMap(anonClient, (anon) =>
    anon.agents.register({
      headers: options.token === undefined ? {} : { "registration-token": options.token },
      payload: {
        agent_id: AgentId.make(rawId),
        ...(options.invite === undefined ? {} : { invite_code: options.invite })
      }
    })
  )

/** Registers `rawId` and opens a client with its token. */
export const registerHandle = (rawId: string, options: { token?: string; invite?: string } = {}) =>
  Effect.gen(function* () {
    const res = yield* registerWith(rawId, options)
    return {
      id: res.agent_id,
      token: res.token!,
      lifecycle: res.lifecycle,
      client: yield* clientFor(res.token!)
    }
  })
