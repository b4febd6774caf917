/**
 * The notification sound: two short rising tones made with the Web Audio
 * API, so no sound file is fetched. Browsers let a page make sound only
 * after the person has interacted with it; before that the chime is skipped
 * rather than left to fail.
 */

/** Each tone: its pitch (Hz), when it starts and how long it lasts (s). */
export const CHIME: readonly { hz: number; start: number; length: number }[] = [
  { hz: 880, start: 0, length: 0.12 },
  { hz: 1318.5, start: 0.11, length: 0.18 },
];
const VOLUME = 0.15;

type AudioContextClass = typeof AudioContext;

let context: AudioContext | null = null;

function audioContextClass(): AudioContextClass | null {
  if (typeof window === "undefined") return null;
  return window.AudioContext ?? (window as unknown as { webkitAudioContext?: AudioContextClass }).webkitAudioContext ?? null;
}

/** Whether the page may make sound now (autoplay policy: after a user gesture). */
function mayPlay(): boolean {
  const activation = (navigator as Navigator & { userActivation?: { hasBeenActive: boolean } }).userActivation;
  return activation === undefined || activation.hasBeenActive;
}

/** Plays the chime once; does nothing where sound is unavailable or not allowed yet. */
export function chime(): void {
  const Context = audioContextClass();
  if (!Context || !mayPlay()) return;
  try {
    context ??= new Context();
    if (context.state === "suspended") void context.resume().catch(() => {});
    const at = context.currentTime + 0.01;
    for (const tone of CHIME) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = tone.hz;
      // A soft attack and an exponential fade, so the tones do not click.
      gain.gain.setValueAtTime(0.0001, at + tone.start);
      gain.gain.exponentialRampToValueAtTime(VOLUME, at + tone.start + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + tone.start + tone.length);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at + tone.start);
      oscillator.stop(at + tone.start + tone.length + 0.02);
    }
  } catch {
    // No audio output: the desktop notification (if allowed) still tells.
  }
}
