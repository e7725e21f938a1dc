/** Response bodies shaped like the API's, for fake servers. */
export const agentListing = (agentId: string) => ({
  agent_id: agentId,
  name: null,
  endpoint: null,
  metadata: {},
  capabilities: [],
  lifecycle: "registered",
  alive: true,
  last_heartbeat_at: "2026-01-01T00:00:00.000Z",
  current_load: 0,
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z"
})

export const balance = (agentId: string, available: number) => ({
  agent_id: agentId,
  currency: "credits",
  available,
  held_as_payer: 0,
  pending_as_payee: 0
})

export const assignment = (n: number, agentId = "executor-1") => ({
  assignment_id: `assignment-${n}`,
  task_id: "task-1",
  session_id: "session-1",
  agent_id: agentId,
  kind: "execute",
  target_assignment_id: null,
  deadline_at: null,
  status: "assigned",
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z"
})
