/** Who is typing in which chat: chat id → contact ids. */
export type TypingMap = Readonly<Record<string, readonly string[]>>;

export function startTyping(typing: TypingMap, chatId: string, contactId: string): TypingMap {
  const now = typing[chatId] ?? [];
  return now.includes(contactId) ? typing : { ...typing, [chatId]: [...now, contactId] };
}

export function stopTyping(typing: TypingMap, chatId: string, contactId: string): TypingMap {
  const now = typing[chatId];
  if (!now?.includes(contactId)) return typing;
  const rest = now.filter((id) => id !== contactId);
  const { [chatId]: _removed, ...others } = typing;
  return rest.length ? { ...others, [chatId]: rest } : others;
}
