import { useMemo, useRef, useState } from "preact/hooks";
import { Virtualizer } from "virtua";
import type { Dashboard } from "../app/dashboard";
import { shownEvents } from "../events/buffer";
import { type EventEntry, envelopeOf } from "../events/entry";
import { type EventMonitor, eventMonitorOf } from "../events/eventMonitor";
import { filterEvents } from "../events/filter";
import { HISTORY_PER_DEVICE } from "../events/history";
import { NDJSON_TYPE, exportFileName, toNdjson } from "../events/ndjson";
import { summarize } from "../events/summary";
import { useStore } from "../lib/store";
import { count, preciseTime } from "./format";
import { onRowKey } from "./keyboard";

/** The events' kinds, for their badges' colours. */
function kindOf(type: string): string {
  if (type.startsWith("message")) return "message";
  if (type.startsWith("typing") || type === "contact:update") return "presence";
  if (type === "chat:update" || type.startsWith("notification")) return "chat";
  return "device";
}

/** Downloads text as a file made in the page (a `blob:` URL): nothing goes to the server. */
function download(text: string, type: string, name: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * `/events`: the journal of every device the credential sees, newest first:
 * each device's latest events, then live ones as they happen. A filter, a
 * pause that loses nothing, each event's JSON, and an NDJSON download of what
 * is shown.
 */
export default function EventsView({ dashboard }: { dashboard: Dashboard }) {
  const monitor = eventMonitorOf(dashboard);
  const buffer = useStore(monitor.buffer);
  const [query, setQuery] = useState("");
  const [openKey, setOpenKey] = useState<string | null>(null);
  const shown = useMemo(() => filterEvents(shownEvents(buffer), query), [buffer, query]);
  const open = openKey === null ? undefined : buffer.events.find((e) => e.key === openKey);

  return (
    <main class={`events${open ? " detail-open" : ""}`}>
      <header class="events-head">
        <h1>Events</h1>
        <input
          class="event-filter"
          data-testid="event-filter"
          type="search"
          placeholder="Filter: event name or text in the payload"
          aria-label="Filter events by name or payload text"
          spellcheck={false}
          value={query}
          onInput={(event) => setQuery(event.currentTarget.value)}
        />
        <button
          type="button"
          data-testid="event-pause"
          data-paused={buffer.paused ? "true" : "false"}
          aria-pressed={buffer.paused}
          onClick={() => (buffer.paused ? monitor.resume() : monitor.pause())}
        >
          {buffer.paused ? "Resume" : "Pause"}
        </button>
        <button
          type="button"
          data-testid="event-export"
          disabled={shown.length === 0}
          title="The events shown, oldest first, one JSON envelope a line"
          onClick={() => download(toNdjson(shown), NDJSON_TYPE, exportFileName(new Date()))}
        >
          Download NDJSON
        </button>
      </header>
      <MonitorNotes monitor={monitor} shown={shown.length} />
      <div class="event-panes">
        <EventList entries={shown} openKey={openKey} onOpen={setOpenKey} empty={buffer.events.length === 0 ? "No events yet." : "No event matches the filter."} />
        {open && <EventDetail entry={open} onClose={() => setOpenKey(null)} />}
      </div>
    </main>
  );
}

function MonitorNotes({ monitor, shown }: { monitor: EventMonitor; shown: number }) {
  const buffer = useStore(monitor.buffer);
  const history = useStore(monitor.history);
  const loading = Object.values(history).filter((h) => h.phase === "loading").length;
  const failed = Object.entries(history).flatMap(([deviceId, h]) => (h.phase === "failed" ? [{ deviceId, problem: h.problem }] : []));
  return (
    <div class="events-notes">
      <p class="muted" role="status">
        {count(shown)} shown of {count(buffer.events.length)} kept. The monitor keeps the latest{" "}
        {count(monitor.bounds.maxEvents)} events (and at most {Math.round(monitor.bounds.maxBytes / 1024 / 1024)} MB of
        payloads), starting from each device's latest {count(HISTORY_PER_DEVICE)}
        {buffer.dropped > 0 && `; ${count(buffer.dropped)} older ones were let go`}.
        {loading > 0 && ` Reading the history of ${loading} device${loading === 1 ? "" : "s"}…`}
      </p>
      {buffer.paused && (
        <p class="paused-note" data-testid="event-held" data-held={buffer.held.size}>
          Paused: {count(buffer.held.size)} new event{buffer.held.size === 1 ? "" : "s"} held until you resume.
        </p>
      )}
      {failed.map(({ deviceId, problem }) => (
        <p key={deviceId} class="error" role="alert">
          The history of {deviceId} could not be read: {problem}{" "}
          <button type="button" class="link" onClick={() => monitor.retry(deviceId)}>
            Try again
          </button>
        </p>
      ))}
    </div>
  );
}

function EventList({
  entries,
  openKey,
  onOpen,
  empty,
}: {
  entries: readonly EventEntry[];
  openKey: string | null;
  onOpen: (key: string) => void;
  empty: string;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  if (entries.length === 0) return <p class="empty event-list">{empty}</p>;
  return (
    <div class="event-list" ref={scroller} role="region" aria-label="Events, newest first">
      <Virtualizer scrollRef={scroller} data={entries} itemSize={36}>
        {(entry) => (
          <div
            key={entry.key}
            class={`event-row${entry.key === openKey ? " open" : ""}`}
            role="button"
            aria-pressed={entry.key === openKey}
            tabIndex={0}
            data-testid="event-row"
            data-event={entry.type}
            data-seq={entry.seq}
            data-device-id={entry.deviceId}
            onClick={() => onOpen(entry.key)}
            onKeyDown={(event) => onRowKey(event, () => onOpen(entry.key))}
          >
            <time class="event-time" dateTime={entry.at} title={entry.at}>
              {preciseTime(entry.at)}
            </time>
            <span class="event-device">{entry.deviceId}</span>
            <span class="event-seq">#{entry.seq}</span>
            <span class={`event-type ${kindOf(entry.type)}`}>{entry.type}</span>
            <span class="event-summary">{summarize(entry.type, entry.data)}</span>
          </div>
        )}
      </Virtualizer>
    </div>
  );
}

function EventDetail({ entry, onClose }: { entry: EventEntry; onClose: () => void }) {
  return (
    <section class="event-detail" aria-label={`${entry.type} #${entry.seq} of ${entry.deviceId}`}>
      <header>
        <h2>
          {entry.type} <span class="muted">#{entry.seq} · {entry.deviceId}</span>
        </h2>
        <button type="button" onClick={onClose} aria-label="Close the event">
          Close
        </button>
      </header>
      {/* Focusable, so that a long event scrolls with the keyboard too. */}
      <pre data-testid="event-detail" tabIndex={0}>
        {JSON.stringify(envelopeOf(entry), null, 2)}
      </pre>
    </section>
  );
}
