import { existsSync, readFileSync } from "node:fs"
import { networkInterfaces } from "node:os"
import { join } from "node:path"
import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { HttpApi } from "@effect/platform"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postgresSkipped } from "../support/Stores"
import {
  bareEnv,
  call,
  ensureBuilt,
  freePort,
  killAll,
  launch,
  postgresSchema,
  root,
  tempDir
} from "./support"

beforeAll(() => ensureBuilt("server"))
afterAll(killAll)

interface Instruction {
  readonly stage: number
  readonly op: string
  readonly args: string
}

/** Dockerfile instructions (continuations joined, comments dropped) with the index of their stage. */
const dockerfile = (): ReadonlyArray<Instruction> => {
  const text = readFileSync(join(root, "Dockerfile"), "utf8")
  const logical = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
  let stage = -1
  return logical.map((line) => {
    const [op, ...rest] = line.split(/\s+/)
    if (op!.toUpperCase() === "FROM") stage++
    return { stage, op: op!.toUpperCase(), args: rest.join(" ") }
  })
}

/** The file `node scripts/build.mjs server` writes (its `server` target's outfile). */
const serverOutfile = (): string => {
  const source = readFileSync(join(root, "scripts/build.mjs"), "utf8")
  const match = /\bserver:\s*\{[^}]*?outfile:\s*resolve\(root,\s*"([^"]+)"\)/.exec(source)
  if (match === null) throw new Error("scripts/build.mjs has no server target with an outfile")
  return match[1]!
}

/** Method and path of every endpoint of the HttpApi. */
const endpoints = (): ReadonlyArray<string> => {
  const found: Array<string> = []
  HttpApi.reflect(MarketplaceApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => found.push(`${endpoint.method} ${endpoint.path}`)
  })
  return found
}

const railway = () => JSON.parse(readFileSync(join(root, "railway.json"), "utf8"))

describe("deploy files", () => {
  it("Dockerfile and railway.json point at files the repository has and the build produces", () => {
    const instructions = dockerfile()
    const stages = instructions.filter((i) => i.op === "FROM")
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const runtime = stages.length - 1

    // Every COPY from the build context names a repository path.
    const contextCopies = instructions.filter((i) => i.op === "COPY" && !i.args.startsWith("--from="))
    expect(contextCopies.length).toBeGreaterThan(0)
    for (const copy of contextCopies) {
      const words = copy.args.split(/\s+/).filter((w) => !w.startsWith("--"))
      for (const source of words.slice(0, -1)) expect(existsSync(join(root, source)), source).toBe(true)
    }

    // The build stage runs the server build; the CMD's entry is what that build writes, and the
    // runtime stage copies it from the build stage.
    const outfile = serverOutfile()
    expect(
      instructions.some(
        (i) => i.stage < runtime && i.op === "RUN" && /node scripts\/build\.mjs server\b/.test(i.args)
      )
    ).toBe(true)
    const cmd = instructions.filter((i) => i.op === "CMD").at(-1)!
    const argv = JSON.parse(cmd.args) as Array<string>
    expect(argv).toEqual(["node", outfile])
    const fromBuild = instructions
      .filter((i) => i.stage === runtime && i.op === "COPY" && i.args.startsWith("--from="))
      .map((i) => i.args.split(/\s+/).slice(1))
    expect(
      fromBuild.some(
        ([source, dest]) =>
          source === `/app/${outfile.split("/").slice(0, -1).join("/")}` && outfile.startsWith(dest!)
      )
    ).toBe(true)
    // Other files copied from the build stage exist in a built checkout at the same relative path.
    for (const [source] of fromBuild)
      expect(existsSync(join(root, source!.replace(/^\/app\//, ""))), source).toBe(true)
    expect(existsSync(join(root, outfile))).toBe(true)

    // Railway: same start command, healthcheck on /ready, which the API serves; Docker's on /health.
    const config = railway()
    expect(config.build.builder).toBe("DOCKERFILE")
    expect(existsSync(join(root, config.build.dockerfilePath))).toBe(true)
    expect(config.deploy.startCommand.split(/\s+/)).toEqual(argv)
    expect(config.deploy.healthcheckPath).toBe("/ready")
    expect(endpoints()).toEqual(expect.arrayContaining(["GET /ready", "GET /health"]))
    const healthcheck = instructions.find((i) => i.op === "HEALTHCHECK")!
    expect(healthcheck.args).toContain("/health")
  })

  it.skipIf(postgresSkipped)(
    "the production start command serves /ready on 0.0.0.0:$PORT with DATABASE_URL and exits 0 on SIGTERM",
    async () => {
      const pg = await postgresSchema()
      const data = tempDir("deploy")
      try {
        const port = await freePort()
        // The runtime stage's ENV, with what Railway sets: PORT and DATABASE_URL (its Postgres plugin).
        // The data directory moves to a temporary one (/app/data exists only in the image).
        const imageEnv: Record<string, string> = {}
        const instructions = dockerfile()
        const runtime = instructions.filter((i) => i.op === "FROM").length - 1
        for (const i of instructions.filter((i) => i.stage === runtime && i.op === "ENV")) {
          for (const pair of i.args.split(/\s+/)) {
            const [name, ...value] = pair.split("=")
            imageEnv[name!] = value.join("=")
          }
        }
        expect(imageEnv.AGENT_MARKETPLACE_STORE).toBeUndefined()
        const env = bareEnv({
          ...imageEnv,
          AGENT_MARKETPLACE_DATA_DIR: data.dir,
          PORT: String(port),
          DATABASE_URL: pg.url
        })
        const server = await launch({ command: railway().deploy.startCommand.split(/\s+/), env, port })

        const ready = await call(server.url, "GET", "/ready")
        expect(ready.status).toBe(200)
        expect(ready.body).toEqual({ ready: true, store: "postgres" })
        expect(server.logs()).toContain(`listening on http://0.0.0.0:${port}`)
        // Bound to every interface: reachable on a non-loopback address too, when the machine has one.
        const external = Object.values(networkInterfaces())
          .flat()
          .find((a) => a !== undefined && a.family === "IPv4" && !a.internal)
        if (external !== undefined) {
          expect((await call(`http://${external.address}:${port}`, "GET", "/health")).status).toBe(200)
        }

        const stopped = await server.terminate()
        expect(stopped.code).toBe(0)
        expect(stopped.ms).toBeLessThan(5_000)
        console.info(
          `deploy: production start on postgres ready (also reached on ${external?.address ?? "no external address"}); ` +
            `SIGTERM → exit 0 in ${stopped.ms} ms`
        )
      } finally {
        await killAll()
        data.remove()
        await pg.drop()
      }
    },
    30_000
  )
})
