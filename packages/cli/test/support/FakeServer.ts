import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

/** What the fake answers: a status and a body (a string is sent verbatim), or `drop` to cut the connection. */
export type Answer = { readonly status: number; readonly body: unknown } | "drop"

export interface FakeServer {
  readonly url: string
  readonly requests: Array<RecordedRequest>
  readonly close: () => Promise<void>
}

/** A tiny HTTP server on 127.0.0.1:<random port> answering with `handler`; records every request. */
export const startFakeServer = async (
  handler: (request: RecordedRequest, index: number) => Answer | Promise<Answer>
): Promise<FakeServer> => {
  const requests: Array<RecordedRequest> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", async () => {
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8")
      }
      requests.push(recorded)
      const answer = await handler(recorded, requests.length - 1)
      if (answer === "drop") {
        req.socket.destroy()
        return
      }
      const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body)
      res.writeHead(answer.status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text)
      })
      res.end(text)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** A port nothing listens on (bound, then released). */
export const closedPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
