import type { AckName } from "../api/types";

const LABELS: Record<AckName, string> = {
  error: "Not sent",
  pending: "Waiting to send",
  server: "Sent",
  device: "Delivered",
  read: "Read",
  played: "Played",
};

const GLYPHS: Record<AckName, string> = {
  error: "!",
  pending: "🕓",
  server: "✓",
  device: "✓✓",
  read: "✓✓",
  played: "✓✓",
};

/** WhatsApp's ticks for an outgoing message: clock, one grey, two grey, two blue. */
export function Ticks({ ack }: { ack: AckName }) {
  return (
    <span class={`ticks ${ack}`} title={LABELS[ack]} aria-label={LABELS[ack]}>
      {GLYPHS[ack]}
    </span>
  );
}
