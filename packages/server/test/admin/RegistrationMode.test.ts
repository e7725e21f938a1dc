import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { serverConfig } from "../../src/platform/ServerConfig"

/** `AGENT_MARKETPLACE_REGISTRATION` as read at startup (a bad value stops it with one line naming it). */
const read = (env: Record<string, string>) =>
  serverConfig.pipe(
    Effect.map((c) => c.registration),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.mapError(String)
  )

describe("AGENT_MARKETPLACE_REGISTRATION", () => {
  it.effect("defaults to token when a registration token is set, else open", () =>
    Effect.gen(function* () {
      expect(yield* read({})).toBe("open")
      expect(yield* read({ AGENT_MARKETPLACE_REGISTRATION_TOKEN: "s" })).toBe("token")
      // An empty token is unset.
      expect(yield* read({ AGENT_MARKETPLACE_REGISTRATION_TOKEN: "" })).toBe("open")
    })
  )

  it.effect("takes open, token, invite, approval", () =>
    Effect.gen(function* () {
      const secrets = { AGENT_MARKETPLACE_REGISTRATION_TOKEN: "s", AGENT_MARKETPLACE_ADMIN_TOKEN: "a" }
      for (const mode of ["open", "token", "invite", "approval"]) {
        expect(yield* read({ ...secrets, AGENT_MARKETPLACE_REGISTRATION: mode })).toBe(mode)
      }
    })
  )

  it.effect("refuses an unknown mode and a mode whose secret is missing, naming the variable", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(read({ AGENT_MARKETPLACE_REGISTRATION: "closed" }))
      expect(bad).toContain("AGENT_MARKETPLACE_REGISTRATION")
      const token = yield* Effect.flip(read({ AGENT_MARKETPLACE_REGISTRATION: "token" }))
      expect(token).toContain("AGENT_MARKETPLACE_REGISTRATION")
      expect(token).toContain("AGENT_MARKETPLACE_REGISTRATION_TOKEN")
      for (const mode of ["invite", "approval"]) {
        const error = yield* Effect.flip(read({ AGENT_MARKETPLACE_REGISTRATION: mode }))
        expect(error).toContain(`${mode} needs AGENT_MARKETPLACE_ADMIN_TOKEN`)
      }
    })
  )
})
