import { useState } from "preact/hooks";
import type { Media } from "../api/types";
import { formatSize, isImage, signedMediaUrl } from "../chat/media";
import { ImageViewer } from "./ImageViewer";

/**
 * A message's file: a picture inline, which opens in the page's viewer,
 * anything else as a link with its name and size. The daemon's files are
 * loaded with the current access token in their URL; a renewed token gives
 * new URLs, which a picture takes only if it has not loaded yet (or failed),
 * since one on screen needs nothing more.
 */
export function MessageMedia({ media, token, caption }: { media: Media; token: string; caption: string }) {
  const signed = signedMediaUrl(media.url, token);
  const [loadedSrc, setLoadedSrc] = useState<string | null>(null);
  const [failedSrc, setFailedSrc] = useState<string | null>(null);
  const [viewing, setViewing] = useState(false);
  const name = media.name ?? (isImage(media) ? "Photo" : "File");

  if (signed && isImage(media) && failedSrc !== signed) {
    const src = loadedSrc ?? signed;
    return (
      <>
        <button type="button" class="media media-image" title={`View ${name}`} onClick={() => setViewing(true)}>
          <img
            src={src}
            alt={name}
            data-testid="message-media"
            onLoad={() => setLoadedSrc(src)}
            onError={() => {
              setLoadedSrc(null);
              setFailedSrc(src);
            }}
          />
        </button>
        {viewing && <ImageViewer src={src} name={name} caption={caption} onClose={() => setViewing(false)} />}
      </>
    );
  }
  const size = formatSize(media.size);
  return (
    <a
      class="media media-file"
      data-testid="message-media"
      href={signed ?? media.url}
      {...(signed ? { download: name } : { target: "_blank", rel: "noopener noreferrer" })}
    >
      <svg class="file-icon" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
        <path d="M6 2.75h8l4.25 4.25v14.25H6z M14 2.75V7h4.25" />
      </svg>
      <span class="file-name">{name}</span>
      {size && <span class="file-size">{size}</span>}
    </a>
  );
}
