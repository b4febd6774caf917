import { useState } from "preact/hooks";
import type { ContactCard, Location, Media, Poll } from "../api/types";
import { formatCoordinates, formatDuration, mapUrl, pollTally, toggledVote, votesOf } from "../chat/kinds";
import { signedMediaUrl } from "../chat/media";
import { Icon } from "./Icon";

/**
 * How long a recording lasts, as the element learnt it. A recording made by a browser
 * (WebM) may not say so until it was read to its end, which the element is asked to do once.
 */
function useMediaLength(known: number | undefined) {
  const [length, setLength] = useState<number | null>(null);
  const learn = (event: Event) => {
    const element = event.currentTarget as HTMLMediaElement;
    if (Number.isFinite(element.duration)) {
      setLength(element.duration);
      if (element.currentTime > 0 && element.paused && element.dataset.probing) {
        delete element.dataset.probing;
        element.currentTime = 0;
      }
    } else if (event.type === "loadedmetadata" && !element.dataset.probing) {
      element.dataset.probing = "1";
      element.currentTime = Number.MAX_SAFE_INTEGER;
    }
  };
  return { seconds: known ?? length, learn };
}

/**
 * A voice note or an audio file: a player, and its length (the upstream's, else what the
 * player finds).
 */
export function VoicePlayer({
  media,
  token,
  durationSecs,
  voice,
}: {
  media: Media;
  token: string;
  durationSecs: number | undefined;
  voice: boolean;
}) {
  const src = signedMediaUrl(media.url, token);
  const { seconds, learn } = useMediaLength(durationSecs);
  const length = formatDuration(seconds);
  const what = voice ? "Voice message" : (media.name ?? "Audio");
  return (
    <div class="media media-voice" data-testid="message-voice" data-duration={seconds ?? ""}>
      <span class="voice-icon">
        <Icon name={voice ? "mic" : "note"} />
      </span>
      {src ? (
        <audio
          controls
          preload="metadata"
          src={src}
          aria-label={what}
          onLoadedMetadata={learn}
          onDurationChange={learn}
        />
      ) : (
        <a href={media.url} target="_blank" rel="noopener noreferrer">
          {what}
        </a>
      )}
      <span class="voice-length">{length || "–:––"}</span>
    </div>
  );
}

/** A video, played in the bubble. */
export function VideoPlayer({ media, token, durationSecs }: { media: Media; token: string; durationSecs: number | undefined }) {
  const src = signedMediaUrl(media.url, token);
  const { seconds, learn } = useMediaLength(durationSecs);
  const length = formatDuration(seconds);
  return (
    <div class="media media-video" data-testid="message-video" data-duration={seconds ?? ""}>
      {src ? (
        <video
          controls
          preload="metadata"
          src={src}
          aria-label={media.name ?? "Video"}
          onLoadedMetadata={learn}
          onDurationChange={learn}
        />
      ) : (
        <a href={media.url} target="_blank" rel="noopener noreferrer">
          {media.name ?? "Video"}
        </a>
      )}
      {length && <span class="video-length">{length}</span>}
    </div>
  );
}

/** A place: its name and address, coordinates, and a link to it on a map. */
export function LocationCard({ location }: { location: Location }) {
  const coordinates = formatCoordinates(location);
  return (
    <div class="location" data-testid="message-location" data-latitude={location.latitude} data-longitude={location.longitude}>
      <span class="location-pin">
        <Icon name="pin" size={28} />
      </span>
      <span class="location-text">
        {location.name && <span class="location-name">{location.name}</span>}
        {location.address && <span class="location-address">{location.address}</span>}
        <span class="location-coordinates">{coordinates}</span>
        <a href={mapUrl(location)} target="_blank" rel="noopener noreferrer" data-testid="location-map">
          Open in a map
        </a>
      </span>
    </div>
  );
}

/** Contact cards: each person's name and numbers. */
export function ContactCards({ contacts }: { contacts: readonly ContactCard[] }) {
  return (
    <>
      {contacts.map((card, i) => (
        <div key={`${i}-${card.name}`} class="contact-card" data-testid="message-contact">
          <span class="avatar" aria-hidden="true">
            {card.name.slice(0, 1).toUpperCase() || "?"}
          </span>
          <span class="contact-text">
            <span class="contact-name">{card.name}</span>
            {card.phones.map((phone) => (
              <span key={phone} class="contact-phone">
                {phone}
              </span>
            ))}
          </span>
        </div>
      ))}
    </>
  );
}

/**
 * A poll: its question and options with their counts, ours marked. Clicking an option votes
 * (a poll of several answers toggles it, one of one answer picks it), when `onVote` is given.
 */
export function PollCard({
  poll,
  me,
  onVote,
}: {
  poll: Poll;
  me: string | null;
  onVote: ((options: string[]) => void) | null;
}) {
  const tally = pollTally(poll, me);
  const total = tally.reduce((sum, t) => sum + t.votes, 0);
  const mine = votesOf(poll, me);
  return (
    <div class="poll" data-testid="message-poll" role="group" aria-label={`Poll: ${poll.question}`}>
      <span class="poll-question">{poll.question}</span>
      <span class="poll-hint">{poll.multiple ? "Select one or more" : "Select one"}</span>
      <ul class="poll-options">
        {tally.map((t) => (
          <li key={t.option}>
            <button
              type="button"
              class={`poll-option${t.mine ? " mine" : ""}`}
              data-testid="poll-option"
              data-option={t.option}
              data-votes={t.votes}
              data-mine={t.mine ? "true" : "false"}
              aria-pressed={t.mine}
              disabled={!onVote}
              onClick={() => onVote?.(toggledVote(mine, t.option, poll.multiple))}
            >
              <span class="poll-check" aria-hidden="true">
                {t.mine ? "✓" : ""}
              </span>
              <span class="poll-label">{t.option}</span>
              <span class="poll-count">
                {t.votes}
                <span class="visually-hidden">{t.votes === 1 ? " vote" : " votes"}</span>
              </span>
              <span class="poll-bar" aria-hidden="true">
                <progress max={Math.max(total, 1)} value={t.votes} />
              </span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
