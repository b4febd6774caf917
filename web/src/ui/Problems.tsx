/**
 * What keeps a form from being sent, one line each; nothing when all is well. The alert wraps
 * the list, which keeps its own role for its items.
 */
export function Problems({ problems }: { problems: readonly string[] }) {
  if (problems.length === 0) return null;
  return (
    <div role="alert">
      <ul class="error">
        {problems.map((p) => (
          <li key={p}>{p}</li>
        ))}
      </ul>
    </div>
  );
}
