import { useEffect, useState } from "preact/hooks";
import { describeError } from "../api/rest";
import { searchMessages } from "../api/search";
import type { Message } from "../api/types";
import type { DeviceSession } from "../device/deviceSession";

/** How long typing rests before the daemon is asked, and the shortest search asked. */
const PAUSE_MS = 300;
const SHORTEST = 2;

/**
 * The device's messages whose text has the words typed in the chat search, asked of the
 * daemon once typing pauses; `null` while nothing is searched. An answer to words since
 * changed is dropped.
 */
export function useMessageSearch(
  session: DeviceSession,
  words: string,
): { found: Message[] | null; problem: string | null } {
  const [found, setFound] = useState<Message[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    const wanted = words.trim();
    if (wanted.length < SHORTEST) {
      setFound(null);
      setProblem(null);
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      searchMessages(session.hub.session, session.deviceId, wanted)
        .then((page) => {
          if (!current) return;
          setFound(page.items);
          setProblem(null);
        })
        .catch((error) => {
          if (current) setProblem(describeError(error));
        });
    }, PAUSE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [session, words]);
  return { found, problem };
}
