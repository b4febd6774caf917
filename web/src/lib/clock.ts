// Times of day as the dashboard shows them, in the browser's locale and time zone.

const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

/** A message's time of day, as bubbles show it. */
export function clockTime(iso: string): string {
  return time.format(new Date(iso));
}

/** When something last happened: the time if today, else the day. */
export function activityTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  return date.toDateString() === now.toDateString() ? time.format(date) : day.format(date);
}

/** A moment ahead (a send scheduled, a restriction's end): the time if today, else the day too. */
export function momentTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  return date.toDateString() === now.toDateString() ? time.format(date) : `${day.format(date)}, ${time.format(date)}`;
}
