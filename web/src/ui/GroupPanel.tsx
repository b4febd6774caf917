import { useEffect, useState } from "preact/hooks";
import type { DeviceRequests, Group, GroupParticipant, ParticipantAction } from "../api/types";
import { describeError } from "../api/rest";
import { participantId } from "../chat/participants";
import type { DeviceSession } from "../device/deviceSession";
import { Dialog } from "./Dialog";

/** A group event the panel asks, with what it takes and answers. */
type GroupEvent = Extract<keyof DeviceRequests, `group:${string}`>;

/** What WhatsApp calls each role. */
const ROLE_NAMES: Record<GroupParticipant["role"], string> = {
  superadmin: "Group creator",
  admin: "Admin",
  member: "Member",
};

/** One of a group's texts (its name, its description), edited in place and saved with its button. */
function GroupText({
  field,
  label,
  value,
  max,
  save,
  canSave,
  onInput,
  onSave,
}: {
  field: "name" | "description";
  label: string;
  value: string;
  max: number;
  save: string;
  canSave: boolean;
  onInput: (value: string) => void;
  onSave: () => void;
}) {
  const id = `group-${field}`;
  const input = {
    id,
    "data-testid": `${id}-input`,
    value,
    maxLength: max,
    onInput: (event: { currentTarget: { value: string } }) => onInput(event.currentTarget.value),
  };
  return (
    <form
      class="group-field"
      onSubmit={(event) => {
        event.preventDefault();
        onSave();
      }}
    >
      <label for={id}>{label}</label>
      {field === "description" ? <textarea rows={2} {...input} /> : <input {...input} />}
      <button type="submit" data-testid={`${id}-save`} disabled={!canSave}>
        {save}
      </button>
    </form>
  );
}

/**
 * A group's information, opened from the chat's header: its name and description (editable),
 * its participants with their roles, what an admin may do to each, adding someone, the
 * invite link (copy, revoke) and leaving. Everything is asked of the device over its socket;
 * the group is read again after each change (and whenever the chat gets a new line, which
 * is how another member's change shows), so it shows what the upstream has.
 */
export function GroupPanel({
  session,
  chatId,
  meId,
  names,
  revision,
  onClose,
}: {
  session: DeviceSession;
  chatId: string;
  meId: string | null;
  /** Contacts' names by id. */
  names: Record<string, string>;
  /** Changes when the chat gets a new message: the group is read again. */
  revision: string | null;
  onClose: () => void;
}) {
  const [group, setGroup] = useState<Group | null>(null);
  const [invite, setInvite] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [adding, setAdding] = useState("");
  const [copied, setCopied] = useState(false);
  const [left, setLeft] = useState(false);

  const ask = async <Event extends GroupEvent>(
    event: Event,
    payload: DeviceRequests[Event][0],
  ): Promise<DeviceRequests[Event][1] | null> => {
    try {
      setProblem(null);
      return await session.link.request(event, payload);
    } catch (error) {
      setProblem(describeError(error));
      return null;
    }
  };
  const load = async () => {
    const found = await ask("group:get", { chatId });
    if (!found) return;
    setGroup(found);
    setName(found.name);
    setDescription(found.description ?? "");
  };
  useEffect(() => {
    if (!left) void load();
  }, [chatId, revision, left]);

  const mine = group?.participants.find((p) => p.id === meId);
  const isAdmin = mine !== undefined && mine.role !== "member";
  useEffect(() => {
    if (!isAdmin) return setInvite(null);
    void ask("group:invite", { chatId }).then((answer) => answer && setInvite(answer.url));
  }, [chatId, isAdmin]);

  const change = async (action: ParticipantAction, id: string) => {
    const request = { chatId, [action]: [id] } as DeviceRequests["group:participants"][0];
    const results = await ask("group:participants", request);
    const refused = results?.find((result) => !result.ok);
    if (refused) setProblem(`Could not ${action} ${refused.id}: ${refused.error}`);
    await load();
  };
  const update = async (patch: { name?: string; description?: string }) => {
    if (await ask("group:update", { chatId, ...patch })) await load();
  };
  const add = async (event: Event) => {
    event.preventDefault();
    const id = participantId(adding);
    if (!id) return setProblem("Type a phone number with its country code, or a chat id.");
    setAdding("");
    await change("add", id);
  };
  const revoke = async () => {
    const answer = await ask("group:invite", { chatId, revoke: true });
    if (answer) setInvite(answer.url);
  };
  const copy = async () => {
    if (!invite) return;
    await navigator.clipboard?.writeText(invite).catch(() => {});
    setCopied(true);
  };
  const leave = async () => {
    if (await ask("group:leave", { chatId })) {
      setLeft(true);
      setGroup(null);
    }
  };
  const named = (id: string) => (id === meId ? "You" : (names[id] ?? id));

  return (
    <Dialog testId="group-info" label="Group info" class="group-info" onClose={onClose}>
      <h2>Group info</h2>
      {problem && (
        <p class="error" role="alert" data-testid="group-info-error">
          {problem}
        </p>
      )}
      {left && <p data-testid="group-left">You left this group.</p>}
      {group && (
        <div class="group-info-body">
          <GroupText
            field="name"
            label="Name"
            value={name}
            max={100}
            save="Rename"
            canSave={name.trim() !== "" && name !== group.name}
            onInput={setName}
            onSave={() => update({ name })}
          />
          <GroupText
            field="description"
            label="Description"
            value={description}
            max={2048}
            save="Save description"
            canSave={description !== (group.description ?? "")}
            onInput={setDescription}
            onSave={() => update({ description })}
          />
          <h3>{group.participants.length} participants</h3>
          <ul class="group-participants">
            {group.participants.map((participant) => (
              <li key={participant.id} data-testid="group-participant" data-participant-id={participant.id} data-role={participant.role}>
                <span class="avatar" aria-hidden="true">
                  {named(participant.id).slice(0, 1).toUpperCase()}
                </span>
                <span class="group-participant-name">
                  {named(participant.id)}
                  <span class="muted"> {ROLE_NAMES[participant.role]}</span>
                </span>
                {isAdmin && participant.id !== meId && (
                  <span class="group-participant-actions">
                    {participant.role === "member" ? (
                      <button type="button" data-testid="group-participant-promote" onClick={() => change("promote", participant.id)}>
                        Make admin
                      </button>
                    ) : (
                      <button type="button" data-testid="group-participant-demote" onClick={() => change("demote", participant.id)}>
                        Dismiss as admin
                      </button>
                    )}
                    <button type="button" data-testid="group-participant-remove" onClick={() => change("remove", participant.id)}>
                      Remove
                    </button>
                  </span>
                )}
              </li>
            ))}
          </ul>
          {isAdmin && (
            <form class="group-field" onSubmit={add}>
              <label for="group-add">Add participant</label>
              <input
                id="group-add"
                data-testid="group-add-input"
                placeholder="+1 555 000 0003"
                value={adding}
                onInput={(event) => setAdding(event.currentTarget.value)}
              />
              <button type="submit" data-testid="group-add-submit" disabled={!adding.trim()}>
                Add
              </button>
            </form>
          )}
          {invite && (
            <div class="group-invite">
              <a href={invite} target="_blank" rel="noopener noreferrer" data-testid="group-invite-link">
                {invite}
              </a>
              <button type="button" data-testid="group-invite-copy" onClick={copy}>
                {copied ? "Copied" : "Copy link"}
              </button>
              <button type="button" data-testid="group-invite-revoke" onClick={revoke}>
                Reset link
              </button>
            </div>
          )}
        </div>
      )}
      <div class="dialog-actions">
        {group && mine && (
          <button type="button" class="danger" data-testid="group-leave" onClick={leave}>
            Exit group
          </button>
        )}
        <button type="button" data-testid="group-info-close" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
