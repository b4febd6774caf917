import { useEffect, useMemo, useState } from "preact/hooks";
import { formatSize } from "../chat/media";
import { Dialog } from "./Dialog";

/**
 * The files just picked, shown before anything is sent, as WhatsApp does:
 * pictures as they are, other files by name and size, with a caption field.
 * Sending uploads them; the caption goes with the first. Cancelling (or
 * Escape) sends nothing.
 */
export function UploadPreview({
  files,
  onSend,
  onCancel,
}: {
  files: readonly File[];
  onSend: (caption: string) => void;
  onCancel: () => void;
}) {
  const [caption, setCaption] = useState("");
  // The pictures are shown from `blob:` URLs of the files themselves, let go when the preview closes.
  const previews = useMemo(
    () => files.map((file) => (file.type.startsWith("image/") ? URL.createObjectURL(file) : null)),
    [files],
  );
  useEffect(() => () => previews.forEach((url) => url && URL.revokeObjectURL(url)), [previews]);
  const title = files.length === 1 ? `Send ${files[0]!.name}` : `Send ${files.length} files`;

  return (
    <Dialog testId="upload-preview" label={title} class="upload-preview" onClose={onCancel}>
      <h2>{title}</h2>
      <ul class="upload-files">
        {files.map((file, i) => (
          <li key={`${i}-${file.name}`}>
            {previews[i] ? (
              <img src={previews[i]!} alt={file.name} />
            ) : (
              <span class="upload-file">
                <svg class="file-icon" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true">
                  <path d="M6 2.75h8l4.25 4.25v14.25H6z M14 2.75V7h4.25" />
                </svg>
                <span class="file-name">{file.name}</span>
                <span class="file-size">{formatSize(file.size)}</span>
              </span>
            )}
          </li>
        ))}
      </ul>
      <form
        class="upload-compose"
        onSubmit={(event) => {
          event.preventDefault();
          onSend(caption.trim());
        }}
      >
        <input
          data-testid="upload-caption"
          type="text"
          placeholder="Add a caption"
          aria-label="Caption"
          value={caption}
          onInput={(event) => setCaption(event.currentTarget.value)}
          autofocus
        />
        <button type="button" data-testid="upload-cancel" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" data-testid="upload-send">
          Send
        </button>
      </form>
    </Dialog>
  );
}
