/**
 * A voice note recorded in the browser, as a file to upload: the recorder's type without its
 * parameters (`audio/webm;codecs=opus` is sent as `audio/webm`), named by when it was made.
 */

const EXTENSIONS: Readonly<Record<string, string>> = {
  "audio/webm": "webm",
  "audio/ogg": "ogg",
  "audio/mp4": "m4a",
  "audio/mpeg": "mp3",
  "audio/wav": "wav",
};

/** The type a recording is uploaded as: the recorder's, plain; WebM when it named none. */
export function recordingType(recorderType: string): string {
  const plain = recorderType.split(";")[0]?.trim().toLowerCase() ?? "";
  return plain.startsWith("audio/") ? plain : "audio/webm";
}

/** The file name of a recording made at `at`: `voice-2026-11-25-14-05-09.webm`. */
export function recordingName(type: string, at: Date): string {
  const stamp = at.toISOString().slice(0, 19).replace(/[T:]/g, "-");
  return `voice-${stamp}.${EXTENSIONS[type] ?? "webm"}`;
}

export function recordingFile(chunks: readonly Blob[], recorderType: string, at: Date): File {
  const type = recordingType(recorderType);
  return new File([...chunks], recordingName(type, at), { type });
}
