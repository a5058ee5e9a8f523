import type { ReactNode } from "react";
import { Link } from "react-router";
import type { Role } from "../api/types";
import { useUser } from "../auth/AuthContext";
import { allowed, homeFor } from "../nav";
import { PageHeader } from "./ui";

export function RequireRole({ roles, children }: { roles: Role[]; children: ReactNode }) {
  const user = useUser();
  if (allowed(user.role, roles)) return <>{children}</>;
  return (
    <section data-testid="forbidden">
      <PageHeader title="Not available" />
      <p>Your account does not have access to this page.</p>
      <p>
        <Link to={homeFor(user.role)}>Go to your start page</Link>
      </p>
    </section>
  );
}
