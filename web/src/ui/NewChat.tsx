import { useState } from "preact/hooks";
import { checkNumber } from "../api/contacts";
import type { NumberCheck } from "../api/types";
import { navigate } from "../app/navigation";
import { numberProblem, numberVerdict } from "../chat/contacts";
import type { DeviceSession } from "../device/deviceSession";
import { chatPath } from "../router";
import { Dialog } from "./Dialog";
import { useAction } from "./useAction";
import { useFormSubmit } from "./useFormSubmit";

/**
 * Starting a chat with a phone number: the number is checked first (`GET …/numbers/{phone}`),
 * and a number without WhatsApp says so instead of opening a chat nobody would read; one with
 * it opens its chat (`chat:open`) and shows it.
 */
export function NewChat({ session, onClose }: { session: DeviceSession; onClose: () => void }) {
  const [phone, setPhone] = useState("");
  const [check, setCheck] = useState<NumberCheck | null>(null);
  const { problems, busy, submit } = useFormSubmit(
    () => {
      const problem = numberProblem(phone);
      return problem ? [problem] : [];
    },
    async () => setCheck(await checkNumber(session.hub.session, session.deviceId, phone)),
  );
  const opening = useAction();
  const start = () =>
    opening.run(async () => {
      const chat = await session.link.request("chat:open", { phone });
      onClose();
      navigate(chatPath(session.deviceId, chat.id));
    });

  return (
    <Dialog testId="new-chat" label="New chat" class="new-chat" onClose={onClose}>
      <h2>New chat</h2>
      <form onSubmit={(event) => void submit(event)} noValidate>
        <label for="new-chat-number">Phone number, with its country code</label>
        <div class="new-chat-row">
          <input
            id="new-chat-number"
            data-testid="new-chat-number"
            type="tel"
            autocomplete="tel"
            placeholder="+1 555 000 0002"
            value={phone}
            onInput={(event) => {
              setPhone(event.currentTarget.value);
              setCheck(null);
            }}
            autofocus
          />
          <button type="submit" data-testid="new-chat-check" disabled={busy}>
            Check
          </button>
        </div>
      </form>
      {[...problems, ...(opening.problem ? [opening.problem] : [])].map((problem) => (
        <p key={problem} class="error" role="alert">
          {problem}
        </p>
      ))}
      {check && (
        <p
          class={`new-chat-result ${check.exists ? "found" : "error"}`}
          data-testid="new-chat-result"
          data-exists={String(check.exists)}
          role="status"
        >
          {numberVerdict(check)}
        </p>
      )}
      <div class="dialog-actions">
        <button type="button" data-testid="new-chat-cancel" onClick={onClose}>
          Cancel
        </button>
        {check?.exists && (
          <button type="button" class="primary" data-testid="new-chat-start" disabled={opening.busy} onClick={() => void start()}>
            Start chat
          </button>
        )}
      </div>
    </Dialog>
  );
}
