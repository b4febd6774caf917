import type { Dashboard } from "../app/dashboard";
import { KeysPanel } from "./KeysPanel";
import { SinksPanel } from "./SinksPanel";
import { StatsPanel } from "./StatsPanel";
import { TokenPanel } from "./TokenPanel";
import { WebhooksPanel } from "./WebhooksPanel";

/** `/admin`, for a key with the `admin` scope: the fleet's counters, API keys, access tokens, webhooks and event sinks. */
export default function AdminView({ dashboard }: { dashboard: Dashboard }) {
  if (!dashboard.session.can("admin")) {
    return (
      <main class="coming-soon">
        <h1>Admin</h1>
        <p>This page needs a key with the admin scope.</p>
      </main>
    );
  }
  return (
    <main class="admin">
      <h1>Admin</h1>
      <StatsPanel dashboard={dashboard} />
      <KeysPanel dashboard={dashboard} />
      <TokenPanel dashboard={dashboard} />
      <WebhooksPanel dashboard={dashboard} />
      <SinksPanel dashboard={dashboard} />
    </main>
  );
}
