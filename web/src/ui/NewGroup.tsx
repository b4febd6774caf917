import { useState } from "preact/hooks";
import { navigate } from "../app/navigation";
import { typedParticipants } from "../chat/participants";
import type { DeviceSession } from "../device/deviceSession";
import { chatPath } from "../router";
import { Dialog } from "./Dialog";
import { useFormSubmit } from "./useFormSubmit";

/**
 * Making a group (`group:create`): its name and the numbers of the people in it; the new
 * group's chat opens, its `system` line saying it was made.
 */
export function NewGroup({ session, onClose }: { session: DeviceSession; onClose: () => void }) {
  const [name, setName] = useState("");
  const [people, setPeople] = useState("");
  const { problems, busy, submit } = useFormSubmit(
    () => {
      const found: string[] = [];
      if (!name.trim()) found.push("Give the group a name.");
      const { ids, unreadable } = typedParticipants(people);
      if (unreadable.length) found.push(`Not a phone number: ${unreadable.join(", ")}`);
      else if (ids.length === 0) found.push("Add at least one person by their number.");
      return found;
    },
    async () => {
      const chat = await session.link.request("group:create", {
        name: name.trim(),
        participants: typedParticipants(people).ids,
      });
      onClose();
      navigate(chatPath(session.deviceId, chat.id));
    },
  );

  return (
    <Dialog testId="new-group" label="New group" class="new-chat" onClose={onClose}>
      <h2>New group</h2>
      <form onSubmit={(event) => void submit(event)} noValidate>
        <label for="new-group-name">Name</label>
        <input
          id="new-group-name"
          data-testid="new-group-name"
          value={name}
          maxLength={100}
          onInput={(event) => setName(event.currentTarget.value)}
          autofocus
        />
        <label for="new-group-people">People, by phone number with its country code (one per line)</label>
        <textarea
          id="new-group-people"
          data-testid="new-group-people"
          rows={3}
          placeholder="+1 555 000 0002"
          value={people}
          onInput={(event) => setPeople(event.currentTarget.value)}
        />
        {problems.map((problem) => (
          <p key={problem} class="error" role="alert">
            {problem}
          </p>
        ))}
        <div class="dialog-actions">
          <button type="button" data-testid="new-group-cancel" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" data-testid="new-group-create" disabled={busy}>
            Create group
          </button>
        </div>
      </form>
    </Dialog>
  );
}
