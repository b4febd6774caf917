import { useEffect, useState } from "preact/hooks";
import { listDeliveries, replayDelivery } from "../api/admin";
import { describeError } from "../api/rest";
import type { AuthSession } from "../auth/session";
import {
  type DeliveryLog as Log,
  deliveryLatencyMs,
  emptyDeliveryLog,
  formatDuration,
  lastOutcome,
  withDelivery,
  withNewestPage,
  withOlderPage,
} from "../admin/deliveryLog";
import { preciseTime } from "./format";

/** The log is read again this often while it is open and the page visible. */
const POLL_MS = 3_000;

/** A subscription's deliveries, newest first, kept current while open; each can be sent again. */
export function DeliveryLog({ session, webhookId }: { session: AuthSession; webhookId: string }) {
  const [log, setLog] = useState<Log>(emptyDeliveryLog);
  const [loaded, setLoaded] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [replaying, setReplaying] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const poll = async () => {
      if (document.visibilityState !== "visible") return;
      try {
        const page = await listDeliveries(session, webhookId);
        if (!live) return;
        setLog((current) => withNewestPage(current, page));
        setLoaded(true);
        setProblem(null);
      } catch (error) {
        if (live) setProblem(describeError(error));
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [webhookId]);

  const older = async () => {
    if (!log.nextCursor) return;
    try {
      const page = await listDeliveries(session, webhookId, log.nextCursor);
      setLog((current) => withOlderPage(current, page));
    } catch (error) {
      setProblem(describeError(error));
    }
  };

  const replay = async (id: string) => {
    setReplaying(id);
    try {
      const delivery = await replayDelivery(session, id);
      setLog((current) => withDelivery(current, delivery));
      setProblem(null);
    } catch (error) {
      setProblem(describeError(error));
    } finally {
      setReplaying(null);
    }
  };

  return (
    <div class="delivery-log" data-testid="delivery-log">
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {loaded && log.items.length === 0 && <p class="muted">No deliveries yet: they appear as the events it selects happen.</p>}
      {log.items.length > 0 && (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>Event</th>
                <th>Status</th>
                <th>Attempts</th>
                <th>Last attempt</th>
                <th title="From the event to its delivery">Took</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {log.items.map((delivery) => {
                const latency = deliveryLatencyMs(delivery);
                const waiting = delivery.status === "pending" || delivery.status === "retrying";
                return (
                  <tr key={delivery.id} data-testid="delivery-row" data-delivery-id={delivery.id} data-status={delivery.status}>
                    <td>
                      <time dateTime={delivery.createdAt} title={`${delivery.id}, created ${delivery.createdAt}`}>
                        {preciseTime(delivery.createdAt)}
                      </time>
                    </td>
                    <td>
                      {delivery.type} <span class="muted">{delivery.deviceId} #{delivery.seq}</span>
                    </td>
                    <td>
                      <span class={`delivery-status ${delivery.status}`}>{delivery.status}</span>
                      {waiting && (
                        <span class="muted" title={delivery.nextAttemptAt}>
                          {" "}
                          next {preciseTime(delivery.nextAttemptAt)}
                        </span>
                      )}
                    </td>
                    <td>{delivery.attempts}</td>
                    <td class="outcome">{lastOutcome(delivery)}</td>
                    <td>{latency === null ? "" : formatDuration(latency)}</td>
                    <td>
                      <button
                        type="button"
                        data-testid="delivery-replay"
                        disabled={replaying === delivery.id}
                        title="Send it again, with the same webhook-id"
                        onClick={() => void replay(delivery.id)}
                      >
                        Replay
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {log.nextCursor && (
        <button type="button" class="more" onClick={() => void older()}>
          Older deliveries
        </button>
      )}
    </div>
  );
}
