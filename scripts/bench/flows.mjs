// Complete buyer → executor → reviewer → settlement flows per second (12 requests each), from
// concurrent workers, each with its own three agents.
import { call, registerAgents } from "./support.mjs"

const flow = async (url, [buyer, executor, reviewer], ids) => {
  const task = await call(url, "POST", "/tasks", { token: buyer })
  const session = await call(url, "POST", "/sessions", { token: buyer, body: { task_id: task.task_id } })
  for (const agent of [ids.executor, ids.reviewer]) {
    await call(url, "POST", `/tasks/${task.task_id}/participants`, {
      token: buyer,
      body: { agent_id: agent }
    })
  }
  const exec = await call(url, "POST", "/assignments", {
    token: buyer,
    body: { task_id: task.task_id, session_id: session.session_id, agent_id: ids.executor, kind: "execute" }
  })
  const review = await call(url, "POST", "/assignments", {
    token: buyer,
    body: {
      task_id: task.task_id,
      session_id: session.session_id,
      agent_id: ids.reviewer,
      kind: "review",
      target_assignment_id: exec.assignment_id
    }
  })
  await call(url, "POST", "/settlement/deposit", { token: buyer, body: { amount: 120 } })
  const hold = (assignment, payee, kind, amount) =>
    call(url, "POST", "/settlement/hold", {
      token: buyer,
      body: { amount, task_id: task.task_id, assignment_id: assignment, payee_agent_id: payee, kind }
    })
  await hold(exec.assignment_id, ids.executor, "execute", 100)
  await hold(review.assignment_id, ids.reviewer, "review", 20)
  await call(url, "POST", `/assignments/${exec.assignment_id}/output-ready`, { token: executor })
  const session2 = await call(url, "POST", "/reviews", {
    token: buyer,
    body: {
      task_id: task.task_id,
      target_assignment_id: exec.assignment_id,
      review_assignment_ids: [review.assignment_id],
      criteria: { format: "plain_text", body: "check" }
    }
  })
  await call(url, "POST", `/reviews/${session2.review_id}/verdict`, {
    token: reviewer,
    body: {
      review_assignment_id: review.assignment_id,
      verdict: { kind: "passed", score_bps: 9000, feedback: "ok" }
    }
  })
}

export const benchFlows = async ({ server, workers = 8, seconds = 8, prefix = "flow" }) => {
  const teams = []
  for (let w = 0; w < workers; w++) {
    const tokens = await registerAgents(server.url, `${prefix}${w}`, 3)
    teams.push({ tokens, ids: { executor: `${prefix}${w}-1`, reviewer: `${prefix}${w}-2` } })
  }
  let done = 0
  const deadline = Date.now() + seconds * 1000
  const started = Date.now()
  await Promise.all(
    teams.map(async (team) => {
      while (Date.now() < deadline) {
        await flow(server.url, team.tokens, team.ids)
        done++
      }
    })
  )
  const elapsed = (Date.now() - started) / 1000
  return { flows: done, flows_per_sec: done / elapsed, requests_per_flow: 12 }
}
