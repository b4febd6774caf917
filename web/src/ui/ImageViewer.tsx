import { Dialog } from "./Dialog";

/**
 * A picture of a chat on its own, over the page, as large as the window
 * allows, with its caption; it closes with Escape or its close button. The
 * picture is the one already loaded in the chat (the same URL), so opening it
 * costs no second download; its link saves the file.
 */
export function ImageViewer({
  src,
  name,
  caption,
  onClose,
}: {
  src: string;
  name: string;
  caption: string;
  onClose: () => void;
}) {
  return (
    <Dialog testId="image-viewer" label={name} class="image-viewer" onClose={onClose}>
      <header class="image-viewer-head">
        <span class="image-viewer-name">{name}</span>
        <a class="image-viewer-save" href={src} download={name}>
          Download
        </a>
        <button type="button" class="icon" data-testid="image-viewer-close" aria-label="Close" onClick={onClose} autofocus>
          ✕
        </button>
      </header>
      <img src={src} alt={name} />
      {caption && <p class="image-viewer-caption">{caption}</p>}
    </Dialog>
  );
}
