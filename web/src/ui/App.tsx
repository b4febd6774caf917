import type { Dashboard } from "../app/dashboard";
import { currentRoute } from "../app/navigation";
import { signInState, signOut } from "../app/signIn";
import { useStore } from "../lib/store";
import type { Route } from "../router";
import { ApiReference } from "./ApiReference";
import { AppLink } from "./AppLink";
import { ComingSoon } from "./ComingSoon";
import { ConnectionStatus } from "./ConnectionStatus";
import { DeviceScreen } from "./DeviceScreen";
import { FleetView } from "./FleetView";
import { NotificationToggle } from "./NotificationToggle";
import { SignIn } from "./SignIn";
import { lazyView } from "./LazyView";

// Pages few visits open, loaded when first shown, so the first view stays small.
const EventsView = lazyView(() => import("./EventsView").then((m) => m.default));
const AdminView = lazyView(() => import("./AdminView").then((m) => m.default));

function HubStatus({ dashboard }: { dashboard: Dashboard }) {
  return <ConnectionStatus status={useStore(dashboard.hub.status)} />;
}

function Page({ dashboard, route }: { dashboard: Dashboard; route: Route }) {
  switch (route.view) {
    case "fleet":
      return <FleetView dashboard={dashboard} />;
    case "device":
      return <DeviceScreen dashboard={dashboard} deviceId={route.deviceId} chatId={null} />;
    case "chat":
      return <DeviceScreen dashboard={dashboard} deviceId={route.deviceId} chatId={route.chatId} />;
    case "events":
      return <EventsView dashboard={dashboard} />;
    case "admin":
      return <AdminView dashboard={dashboard} />;
    case "docs":
      return <ApiReference session={dashboard.session} />;
    case "not-found":
      return <ComingSoon title="Not found" />;
  }
}

export function App() {
  const auth = useStore(signInState);
  const route = useStore(currentRoute);
  return (
    <div class="app">
      <header class="top-bar">
        <AppLink href="/" class="brand">
          devicebridge
        </AppLink>
        <nav class="top-nav" aria-label="Sections">
          {auth.phase === "signed-in" && (
            <>
              <AppLink href="/">Devices</AppLink>
              <AppLink href="/events">Events</AppLink>
              {auth.dashboard.session.can("admin") && <AppLink href="/admin">Admin</AppLink>}
            </>
          )}
          <AppLink href="/docs">API</AppLink>
        </nav>
        <span class="spacer" />
        {auth.phase === "signed-in" && auth.dashboard.notifier && <NotificationToggle notifier={auth.dashboard.notifier} />}
        {/* Signed out there is no socket to tell of: no status rather than a false "Offline". */}
        {auth.phase === "signed-in" && (
          <>
            <HubStatus dashboard={auth.dashboard} />
            <button type="button" class="link" onClick={() => signOut()}>
              Sign out
            </button>
          </>
        )}
      </header>
      {auth.phase === "signed-in" ? (
        <Page dashboard={auth.dashboard} route={route} />
      ) : route.view === "docs" ? (
        // The API reference is public: it is shown without signing in.
        <ApiReference />
      ) : (
        <SignIn problem={auth.phase === "signed-out" ? auth.problem : null} busy={auth.phase === "signing-in"} />
      )}
    </div>
  );
}
