import type { AuthSession } from "../auth/session";
import { ApiRequestError } from "./rest";
import type { ApiError, Media } from "./types";

// Uploading a file to send (docs/connectors.md, "Sending a file"): the body is
// the file itself, its type in Content-Type, its name in `?name=`; the answer
// is the `media` to send it with. XMLHttpRequest rather than fetch, because
// only it reports the upload's progress.

/** Bytes sent so far, of the whole. */
export type UploadProgress = (loaded: number, total: number) => void;

function post(
  url: string,
  token: string,
  file: Blob,
  onProgress: UploadProgress,
  signal?: AbortSignal,
): Promise<Media> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.setRequestHeader("content-type", file.type || "application/octet-stream");
    xhr.responseType = "text";
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () => {
      let body: unknown;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve(body as Media);
        return;
      }
      const error = (body as { error?: Partial<ApiError> } | undefined)?.error;
      reject(
        new ApiRequestError(
          xhr.status,
          error?.code ?? `http_${xhr.status}`,
          error?.message ?? (xhr.statusText || "the upload failed"),
        ),
      );
    };
    xhr.onerror = () => reject(new Error("the upload was cut off (network)"));
    xhr.onabort = () => reject(new DOMException("the upload was cancelled", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/**
 * Uploads `file` to the device with the session's token (renewed and tried
 * once more if it ended meanwhile) and answers the `media` to send.
 */
export async function uploadMedia(
  session: AuthSession,
  deviceId: string,
  file: File,
  onProgress: UploadProgress,
  signal?: AbortSignal,
): Promise<Media> {
  const url = `${session.origin}/api/v1/devices/${encodeURIComponent(deviceId)}/media?name=${encodeURIComponent(file.name)}`;
  try {
    return await post(url, await session.freshToken(), file, onProgress, signal);
  } catch (error) {
    if (!(error instanceof ApiRequestError && error.status === 401)) throw error;
    await session.renew();
    return post(url, session.token, file, onProgress, signal);
  }
}
