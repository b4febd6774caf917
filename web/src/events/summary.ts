/** One line about an event's payload, for its row; the row opens the whole of it. */
export function summarize(type: string, data: unknown): string {
  const d = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === "string" ? value : value == null ? "" : JSON.stringify(value));
  const quoted = (value: unknown, max = 80) => {
    const s = text(value);
    return s.length > max ? `“${s.slice(0, max - 1)}…”` : `“${s}”`;
  };
  switch (type) {
    case "state":
      return `${text(d.previous) || "—"} → ${text(d.state)}${d.reason ? ` (${text(d.reason)})` : ""}`;
    case "qr":
      return `code ${text(d.attempt)}/${text(d.maxAttempts)}, expires ${text(d.expiresAt)}`;
    case "ready":
    case "authenticated": {
      const me = d.me as { id?: unknown; name?: unknown } | null | undefined;
      return me ? `${text(me.name)} (${text(me.id)})` : "";
    }
    case "disconnected":
      return text(d.reason);
    case "connection:status":
      return `${text(d.upstream)}${typeof d.latencyMs === "number" ? `, ${d.latencyMs} ms` : ""}`;
    case "message":
      return `${d.fromMe ? "out to" : "in from"} ${text(d.chatId)}: ${d.revoked ? "(revoked)" : quoted(d.body || d.type)} · ${text(d.id)}`;
    case "message:ack":
      return `${text(d.messageId)} → ${text(d.ackName)}`;
    case "message:status":
      return `${text(d.messageId)} ${text(d.status)}${typeof d.attempt === "number" && d.attempt > 1 ? `, attempt ${d.attempt}` : ""}${d.error ? ` (${text(d.error)})` : ""}`;
    case "message:read":
      return `${text(d.chatId)}: ${Array.isArray(d.messageIds) ? d.messageIds.length : 0} read by ${text(d.readBy)}`;
    case "message:revoked":
      return `${text(d.chatId)}: ${text(d.messageId)}`;
    case "message:reaction":
      return `${text(d.from)} on ${text(d.messageId)}: ${text(d.emoji) || "(removed)"}`;
    case "typing:start":
    case "typing:stop":
      return `${text(d.contactId)} in ${text(d.chatId)}`;
    case "chat:update":
      return `${text(d.name) || text(d.id)}${typeof d.unreadCount === "number" ? `, ${d.unreadCount} unread` : ""}`;
    case "contact:update":
      return `${text(d.name) || text(d.id)}${d.presence ? `: ${text(d.presence)}` : ""}`;
    case "notification":
      return `${text(d.kind)} · ${text(d.title)}: ${quoted(d.body)}`;
    case "notification:read":
      return Array.isArray(d.ids) ? `${d.ids.length} read` : "";
    default:
      return "";
  }
}
