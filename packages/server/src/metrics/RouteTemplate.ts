import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { HttpApi } from "@effect/platform"

/** The label of a request that no route serves (404 `RouteNotFoundError`), whatever its path. */
export const UNMATCHED = "unmatched"

/** Routes served beside the HttpApi (`/openapi.json`, `/docs`, `/metrics`). */
const extraRoutes: ReadonlyArray<readonly [string, string]> = [
  ["GET", "/openapi.json"],
  ["GET", "/docs"],
  ["GET", "/metrics"]
]

interface Template {
  readonly path: string
  /** Literal segments, or `undefined` for a `:param`. */
  readonly segments: ReadonlyArray<string | undefined>
}

/** Templates by method and number of segments (`GET 2` holds `/tasks/:task_id`). */
const templates = new Map<string, Array<Template>>()
const addRoute = (method: string, path: string) => {
  const segments = path
    .split("/")
    .slice(1)
    .map((s) => (s.startsWith(":") ? undefined : s))
  const key = `${method} ${segments.length}`
  const list = templates.get(key) ?? []
  list.push({ path, segments })
  templates.set(key, list)
}
HttpApi.reflect(MarketplaceApi, {
  onGroup: () => {},
  onEndpoint: ({ endpoint }) => addRoute(endpoint.method, endpoint.path)
})
for (const [method, path] of extraRoutes) addRoute(method, path)

/** Whether `a` is more specific than `b`: at the first segment where they differ, a literal beats a parameter. */
const moreSpecific = (a: Template, b: Template) => {
  for (let i = 0; i < a.segments.length; i++) {
    const aStatic = a.segments[i] !== undefined
    const bStatic = b.segments[i] !== undefined
    if (aStatic !== bStatic) return aStatic
  }
  return false
}

/**
 * The route template serving `method` `url` (`/tasks/:task_id` for `/tasks/task-7?x=1`), found the
 * way the router finds it (a literal segment beats a parameter; `HEAD` falls back to `GET`), or
 * `unmatched`. Metrics are labelled with it, never with the concrete path, so their cardinality is
 * bounded by the API.
 */
export const routeTemplate = (method: string, url: string): string => {
  const query = url.indexOf("?")
  const parts = (query === -1 ? url : url.slice(0, query)).split("/").slice(1)
  const find = (m: string) => {
    let best: Template | undefined
    for (const template of templates.get(`${m} ${parts.length}`) ?? []) {
      const matches = template.segments.every((s, i) => (s === undefined ? parts[i] !== "" : s === parts[i]))
      if (matches && (best === undefined || moreSpecific(template, best))) best = template
    }
    return best?.path
  }
  return find(method) ?? (method === "HEAD" ? find("GET") : undefined) ?? UNMATCHED
}
