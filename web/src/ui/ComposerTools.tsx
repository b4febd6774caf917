import { useEffect, useRef, useState } from "preact/hooks";
import type { Location, NewPoll } from "../api/types";
import { POLL_MAX_OPTIONS, POLL_MIN_OPTIONS, formatDuration, parseLocation, pollProblem } from "../chat/kinds";
import { recordingFile } from "../chat/recording";
import { useNow } from "../lib/useNow";
import { Dialog } from "./Dialog";
import { Icon } from "./Icon";

/** Why this page cannot record, or null when it can (MediaRecorder and a microphone API). */
function recordingUnavailable(): string | null {
  if (typeof MediaRecorder === "undefined") return "Recording is not available in this browser";
  if (!navigator.mediaDevices?.getUserMedia) return "No microphone is available to this page (it needs https)";
  return null;
}

type Recording = { recorder: MediaRecorder; stream: MediaStream; chunks: Blob[]; startedAt: number; keep: boolean };

/**
 * Records a voice note with the microphone: a first click starts, a second stops and hands the
 * recording on; "Discard" drops it. Without MediaRecorder or a microphone the button says why,
 * disabled.
 */
export function VoiceRecorder({ disabled, onRecorded }: { disabled: boolean; onRecorded: (file: File) => void }) {
  const [unavailable, setUnavailable] = useState<string | null>(() => recordingUnavailable());
  const [recording, setRecording] = useState<Recording | null>(null);
  const current = useRef<Recording | null>(null);
  // Leaving the chat mid-recording drops it and lets the microphone go.
  useEffect(
    () => () => {
      const rec = current.current;
      if (!rec) return;
      rec.keep = false;
      if (rec.recorder.state !== "inactive") rec.recorder.stop();
      rec.stream.getTracks().forEach((track) => track.stop());
    },
    [],
  );

  const start = async () => {
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      setUnavailable(`No microphone: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const recorder = new MediaRecorder(stream);
    const rec: Recording = { recorder, stream, chunks: [], startedAt: Date.now(), keep: true };
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0) rec.chunks.push(event.data);
    };
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      current.current = null;
      setRecording(null);
      if (rec.keep && rec.chunks.length > 0) {
        onRecorded(recordingFile(rec.chunks, recorder.mimeType, new Date()));
      }
    };
    recorder.start(250);
    current.current = rec;
    setRecording(rec);
  };
  const stop = (keep: boolean) => {
    const rec = current.current;
    if (!rec) return;
    rec.keep = keep;
    rec.recorder.stop();
  };

  if (recording) {
    return (
      <span class="recording" data-testid="composer-recording">
        <RecordingClock startedAt={recording.startedAt} />
        <button type="button" data-testid="composer-voice-cancel" onClick={() => stop(false)}>
          Discard
        </button>
        <button
          type="button"
          class="primary icon-button"
          data-testid="composer-voice"
          data-recording="true"
          aria-label="Stop and send the voice message"
          title="Stop and send"
          onClick={() => stop(true)}
        >
          <Icon name="stop" />
        </button>
      </span>
    );
  }
  return (
    <button
      type="button"
      class="icon-button"
      data-testid="composer-voice"
      data-recording="false"
      aria-label={unavailable ?? "Record a voice message"}
      title={unavailable ?? "Record a voice message"}
      disabled={disabled || unavailable !== null}
      onClick={() => void start()}
    >
      <Icon name="mic" />
    </button>
  );
}

/** A composer form's end: why its input was refused, if it was, then Cancel and Send. */
function FormFooter({ problem, onClose, sendTestId }: { problem: string | null; onClose: () => void; sendTestId: string }) {
  return (
    <>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <div class="dialog-actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" class="primary" data-testid={sendTestId}>
          Send
        </button>
      </div>
    </>
  );
}

function RecordingClock({ startedAt }: { startedAt: number }) {
  const now = useNow(500);
  return (
    <span class="recording-clock" role="timer" aria-label="Recording">
      <span class="recording-dot" aria-hidden="true" />
      {formatDuration(Math.max(0, (now - startedAt) / 1000))}
    </span>
  );
}

/** A place to send: latitude, longitude and a name, or where this browser says it is. */
export function LocationForm({ onSend, onClose }: { onSend: (location: Location) => void; onClose: () => void }) {
  const [latitude, setLatitude] = useState("");
  const [longitude, setLongitude] = useState("");
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [locating, setLocating] = useState(false);
  const geolocation = typeof navigator !== "undefined" ? navigator.geolocation : undefined;
  const here = () => {
    if (!geolocation) return;
    setLocating(true);
    geolocation.getCurrentPosition(
      (position) => {
        setLocating(false);
        setLatitude(position.coords.latitude.toString());
        setLongitude(position.coords.longitude.toString());
        setProblem(null);
      },
      (error) => {
        setLocating(false);
        setProblem(`Your position is not available: ${error.message}`);
      },
      { timeout: 15_000 },
    );
  };
  return (
    <Dialog testId="location-form" label="Send a location" class="kind-form" onClose={onClose}>
      <h2>Send a location</h2>
      <form
        class="kind-form-fields"
        onSubmit={(event) => {
          event.preventDefault();
          const place = parseLocation(latitude, longitude, name);
          if (typeof place === "string") setProblem(place);
          else onSend(place);
        }}
      >
        <label>
          Latitude
          <input
            data-testid="location-form-latitude"
            inputMode="decimal"
            value={latitude}
            onInput={(event) => setLatitude(event.currentTarget.value)}
            autofocus
          />
        </label>
        <label>
          Longitude
          <input
            data-testid="location-form-longitude"
            inputMode="decimal"
            value={longitude}
            onInput={(event) => setLongitude(event.currentTarget.value)}
          />
        </label>
        <label>
          Name (optional)
          <input data-testid="location-form-name" value={name} onInput={(event) => setName(event.currentTarget.value)} />
        </label>
        <button
          type="button"
          data-testid="location-form-here"
          disabled={!geolocation || locating}
          title={geolocation ? "Use my position" : "This browser cannot tell its position"}
          onClick={here}
        >
          {locating ? "Locating…" : "Use my position"}
        </button>
        <FormFooter problem={problem} onClose={onClose} sendTestId="location-form-send" />
      </form>
    </Dialog>
  );
}

/** A poll to send: a question, 2 to 12 options, and whether several may be picked. */
export function PollForm({ onSend, onClose }: { onSend: (poll: NewPoll) => void; onClose: () => void }) {
  const [question, setQuestion] = useState("");
  const [options, setOptions] = useState<string[]>(["", ""]);
  const [multiple, setMultiple] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const setOption = (index: number, value: string) => setOptions(options.map((o, i) => (i === index ? value : o)));
  return (
    <Dialog testId="poll-form" label="Create a poll" class="kind-form" onClose={onClose}>
      <h2>Create a poll</h2>
      <form
        class="kind-form-fields"
        onSubmit={(event) => {
          event.preventDefault();
          const why = pollProblem(question, options);
          if (why) setProblem(why);
          else onSend({ question: question.trim(), options: options.map((o) => o.trim()), multiple });
        }}
      >
        <label>
          Question
          <input
            data-testid="poll-form-question"
            value={question}
            onInput={(event) => setQuestion(event.currentTarget.value)}
            autofocus
          />
        </label>
        <fieldset class="poll-form-options">
          <legend>Options</legend>
          {options.map((option, index) => (
            <span key={index} class="poll-form-option">
              <input
                data-testid="poll-form-option"
                aria-label={`Option ${index + 1}`}
                value={option}
                onInput={(event) => setOption(index, event.currentTarget.value)}
              />
              <button
                type="button"
                class="icon"
                data-testid="poll-form-remove-option"
                aria-label={`Remove option ${index + 1}`}
                disabled={options.length <= POLL_MIN_OPTIONS}
                onClick={() => setOptions(options.filter((_, i) => i !== index))}
              >
                ✕
              </button>
            </span>
          ))}
          <button
            type="button"
            data-testid="poll-form-add-option"
            disabled={options.length >= POLL_MAX_OPTIONS}
            onClick={() => setOptions([...options, ""])}
          >
            Add an option
          </button>
        </fieldset>
        <label class="checkbox">
          <input
            type="checkbox"
            data-testid="poll-form-multiple"
            checked={multiple}
            onChange={(event) => setMultiple(event.currentTarget.checked)}
          />
          Allow multiple answers
        </label>
        <FormFooter problem={problem} onClose={onClose} sendTestId="poll-form-send" />
      </form>
    </Dialog>
  );
}
