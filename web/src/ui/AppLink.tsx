import type { ComponentChildren } from "preact";
import { followLink } from "../app/navigation";

interface Props {
  href: string;
  class?: string;
  tabIndex?: number;
  title?: string;
  children: ComponentChildren;
}

/** A link within the dashboard: a real `<a href>`, navigated without a reload. */
export function AppLink({ href, children, ...rest }: Props) {
  return (
    <a {...rest} href={href} onClick={(event) => followLink(event, href)}>
      {children}
    </a>
  );
}
