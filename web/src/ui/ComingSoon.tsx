export function ComingSoon({ title }: { title: string }) {
  return (
    <main class="coming-soon">
      <h1>{title}</h1>
      <p>Coming soon.</p>
    </main>
  );
}
