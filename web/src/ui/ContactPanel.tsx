import { useState } from "preact/hooks";
import { lookUpContact, setBlocked } from "../api/contacts";
import { contactName, shownPhone } from "../chat/contacts";
import { signedMediaUrl } from "../chat/media";
import type { DeviceSession } from "../device/deviceSession";
import { Dialog } from "./Dialog";
import { useAccessToken } from "./useAccessToken";
import { useAction } from "./useAction";
import { useLoaded } from "./useLoaded";

/**
 * A direct chat's contact, opened from the chat's header: their picture (loaded from the
 * daemon, which keeps it), name, number and about, as the upstream describes them now, and a
 * button to block or unblock them where the device's connector can and the credential may send.
 */
export function ContactPanel({
  session,
  contactId,
  canBlock,
  onClose,
}: {
  session: DeviceSession;
  contactId: string;
  canBlock: boolean;
  onClose: () => void;
}) {
  const auth = session.hub.session;
  const token = useAccessToken(auth);
  const { value: contact, setValue, problem } = useLoaded(() => lookUpContact(auth, session.deviceId, contactId));
  const blocking = useAction();
  const [pictureFailed, setPictureFailed] = useState(false);
  const name = contact ? contactName(contact) : contactId;
  const picture = contact?.pictureUrl && !pictureFailed ? signedMediaUrl(contact.pictureUrl, token) : null;
  const toggle = (blocked: boolean) =>
    blocking.run(async () => setValue(await setBlocked(auth, session.deviceId, contactId, blocked)));

  return (
    <Dialog testId="contact-panel" label="Contact info" class="contact-panel" onClose={onClose}>
      <h2>Contact info</h2>
      <div class="contact-card">
        {picture ? (
          <img
            class="contact-picture"
            data-testid="contact-picture"
            src={picture}
            alt={`Profile picture of ${name}`}
            onError={() => setPictureFailed(true)}
          />
        ) : (
          <span class="avatar contact-picture" aria-hidden="true">
            {name.slice(0, 1).toUpperCase()}
          </span>
        )}
        <h3 data-testid="contact-name">{name}</h3>
        {contact === null && !problem && <p class="muted">Looking them up…</p>}
        {contact && (
          <dl class="contact-facts">
            <dt>Phone</dt>
            <dd data-testid="contact-phone">{shownPhone(contact.phone) ?? "Not known"}</dd>
            <dt>About</dt>
            <dd data-testid="contact-about">{contact.about ?? "Not shown"}</dd>
          </dl>
        )}
        {contact?.blocked && (
          <p class="contact-blocked" data-testid="contact-blocked">
            Blocked: nothing they send reaches this device.
          </p>
        )}
      </div>
      {(problem ?? blocking.problem) && (
        <p class="error" role="alert" data-testid="contact-error">
          {problem ?? blocking.problem}
        </p>
      )}
      <div class="dialog-actions">
        {contact && canBlock && (
          <button
            type="button"
            class={contact.blocked ? "" : "danger"}
            data-testid="contact-block"
            data-blocked={String(contact.blocked)}
            disabled={blocking.busy}
            onClick={() => void toggle(!contact.blocked)}
          >
            {contact.blocked ? "Unblock" : "Block"}
          </button>
        )}
        <button type="button" data-testid="contact-close" onClick={onClose} autofocus>
          Close
        </button>
      </div>
    </Dialog>
  );
}
